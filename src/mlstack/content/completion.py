"""Whether a datastore folder holds exactly a manifest's content, and its completion marker.

Separate from the transfer itself because readers need it too: a version's folder is
trusted only when its marker (written last) names the manifest's digest.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote, unquote

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.storage.blob import ContainerClient

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import Manifest
from mlstack.content.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from mlstack.content.transport import RequestCounter, blob_name, clean_prefix, counted
from mlstack.errors import WorkspaceError

SHA256 = "sha256"  # blob metadata key holding the content's hex sha256
DIGEST = "digest"  # marker metadata key holding the manifest digest
ETAGS = "etags"  # marker key: path → the ETag its blob had when the version was verified


@dataclass(frozen=True)
class Sealed:
    """What a completion marker holds: the version's manifest, and the ETag each blob had
    when the version was verified (where recorded: markers of earlier releases record none).

    A later version copies such a blob on condition that its ETag is unchanged
    (``x-ms-source-if-match``), so the copy is of verified content without listing it
    again; any change to a blob's bytes or metadata changes its ETag.
    """

    manifest: Manifest
    etags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        record: dict[str, Any] = {**self.manifest.to_record(), ETAGS: dict(self.etags)}
        return json.dumps(record, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Sealed:
        raw = json.loads(text)
        etags = raw.get(ETAGS) or {}
        return cls(Manifest.from_record(raw), {str(k): str(v) for k, v in etags.items()})


@dataclass(frozen=True)
class Known:
    """Content a datastore holds that a new version can copy instead of sending.

    ``blobs``: sha256 → a blob holding it; ``etags``: blob → the ETag its version's marker
    recorded (copies from a blob without one are verified by a listing afterwards).
    """

    blobs: dict[str, str] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)

    def add(self, prefix: str, manifest: Manifest, etags: Mapping[str, str] | None = None) -> None:
        """The files of the version stored at ``prefix``; content already known keeps
        its blob (add the newest versions first)."""
        for entry in manifest.entries:
            if entry.sha256 in self.blobs:
                continue
            blob = self.blobs[entry.sha256] = f"{prefix}/{entry.path}"
            etag = etags.get(entry.path) if etags else None
            if etag:
                self.etags[blob] = etag


def marker_name(prefix: str) -> str:
    """``LocalUpload/<hex>/<name>`` → ``LocalUpload/<hex>/.<name>.complete``.

    A sibling, not a child, keeps the folder a plain copy of the asset; one marker per
    folder (not per digest) because two asset names may share one content digest.
    """
    parent, _, leaf = clean_prefix(prefix).rpartition("/")
    return f"{parent}/.{leaf}.complete" if parent else f".{leaf}.complete"


PAGE = 5000  # the most List Blobs returns per request


def listing(
    container: ContainerClient,
    prefix: str,
    retry: RetryPolicy,
    counter: RequestCounter | None = None,
) -> dict[str, tuple[int, str | None]]:
    """Every blob under the folder: name → (size, sha256 metadata), one request per page.

    The List Blobs XML is read here rather than through ``list_blobs``: the SDK's model
    deserialisation costs about 0.2 ms of CPU per blob, more than the service takes to list
    it, and a version is listed before and after every transfer.
    """
    found: dict[str, tuple[int, str | None]] = {}
    marker = ""
    what = f"listing '{prefix}/' in container '{container.container_name}'"
    while True:
        call = partial(_page, container, prefix, marker, counter)
        page, marker = with_retry(call, what, retry)
        found.update(page)
        if not marker:
            return found


def _page(
    container: ContainerClient, prefix: str, marker: str, counter: RequestCounter | None
) -> tuple[dict[str, tuple[int, str | None]], str]:
    query = f"restype=container&comp=list&include=metadata&maxresults={PAGE}"
    query += f"&prefix={quote(prefix + '/', safe='')}"
    if marker:
        query += f"&marker={quote(marker, safe='')}"
    url, _, sas = container.url.partition("?")  # a SAS credential rides in the query
    if sas:
        query += f"&{sas}"
    request = HttpRequest("GET", f"{url}?{query}", headers={"x-ms-version": container.api_version})
    # Through the client's own pipeline (signing, counting hooks), without its parsing.
    response = container._client._send_request(request, **counted(counter))
    if response.status_code == 404:
        raise ResourceNotFoundError(response=response)
    if response.status_code >= 400:
        raise HttpResponseError(response=response)
    # Our own datastore's answer; expat neither fetches external entities nor expands
    # entities without bound, so the stdlib parser is safe here.
    root = ET.fromstring(response.content)  # noqa: S314
    page: dict[str, tuple[int, str | None]] = {}
    for blob in root.iterfind("Blobs/Blob"):
        node = blob.find("Name")
        name = (node.text or "") if node is not None else ""
        if node is not None and node.get("Encoded") == "true":  # names XML cannot carry
            name = unquote(name)
        page[name] = (int(blob.findtext("Properties/Content-Length") or 0),
                      blob.findtext(f"Metadata/{SHA256}"))  # fmt: skip
    return page, root.findtext("NextMarker") or ""


def problems(
    manifest: Manifest, prefix: str, listed: Mapping[str, tuple[int, str | None]]
) -> dict[str, str]:
    """Blob name → what is wrong with it, for missing, mismatched and extra blobs."""
    expected = {blob_name(prefix, e): (e.size, e.sha256) for e in manifest.entries}
    found: dict[str, str] = {}
    for name, want in expected.items():
        got = listed.get(name)
        if got is None:
            found[name] = "missing"
        elif got != want:
            found[name] = f"holds size {got[0]} sha256 {got[1]}, expected {want[0]} {want[1]}"
    for name in listed.keys() - expected.keys():
        found[name] = "not in the manifest"
    return found


def complaint(container: str, prefix: str, problems: Mapping[str, str]) -> WorkspaceError:
    lines = [f"  - {name}: {why}" for name, why in sorted(problems.items())[:10]]
    if len(problems) > 10:
        lines.append(f"  ... and {len(problems) - 10} more")
    head = (
        f"folder '{prefix}/' in container '{container}' does not match its manifest; "
        "remove the blobs listed below (or the whole folder) and run again:"
    )
    return WorkspaceError("\n".join([head, *lines]))


def marker_digest(
    container: ContainerClient,
    prefix: str,
    retry: RetryPolicy,
    counter: RequestCounter | None = None,
) -> str | None:
    def run() -> str | None:
        marker = container.get_blob_client(marker_name(prefix))
        try:
            props = marker.get_blob_properties(**counted(counter))
        except ResourceNotFoundError:
            return None
        return (props.metadata or {}).get(DIGEST)

    return with_retry(run, f"reading the marker of '{prefix}/'", retry)


def is_complete(
    endpoint: BlobEndpoint,
    container: str,
    prefix: str,
    digest: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> bool:
    """True when the folder ``prefix`` holds the complete, verified content of ``digest``."""
    with endpoint.client(pool=1, retries=0) as service:
        client = service.get_container_client(container)
        return marker_digest(client, clean_prefix(prefix), retry) == digest


def read_sealed(endpoint: BlobEndpoint, container: str, prefix: str) -> Sealed | None:
    """The completion marker of ``prefix``; None if there is none."""
    with endpoint.client(pool=1) as service:
        blob = service.get_blob_client(container, marker_name(prefix))
        try:
            return Sealed.from_json(blob.download_blob().readall().decode())
        except ResourceNotFoundError:
            return None
