"""Whether a datastore folder holds exactly a manifest's content, and its completion marker.

Separate from the transfer itself because readers need it too: a version's folder is
trusted only when its marker (written last) names the manifest's digest.
"""

from __future__ import annotations

from collections.abc import Mapping

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import Manifest
from mlstack.content.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from mlstack.content.transport import blob_name, clean_prefix
from mlstack.errors import WorkspaceError

SHA256 = "sha256"  # blob metadata key holding the content's hex sha256
DIGEST = "digest"  # marker metadata key holding the manifest digest


def marker_name(prefix: str) -> str:
    """``LocalUpload/<hex>/<name>`` → ``LocalUpload/<hex>/.<name>.complete``.

    A sibling, not a child, keeps the folder a plain copy of the asset; one marker per
    folder (not per digest) because two asset names may share one content digest.
    """
    parent, _, leaf = clean_prefix(prefix).rpartition("/")
    return f"{parent}/.{leaf}.complete" if parent else f".{leaf}.complete"


def listing(
    container: ContainerClient, prefix: str, retry: RetryPolicy
) -> dict[str, tuple[int, str | None]]:
    """Every blob under the folder: name → (size, sha256 metadata), in one paged listing."""

    def run() -> dict[str, tuple[int, str | None]]:
        blobs = container.list_blobs(name_starts_with=f"{prefix}/", include=["metadata"])
        return {b.name: (b.size, (b.metadata or {}).get(SHA256)) for b in blobs}

    return with_retry(run, f"listing '{prefix}/' in container '{container.container_name}'", retry)


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


def marker_digest(container: ContainerClient, prefix: str, retry: RetryPolicy) -> str | None:
    def run() -> str | None:
        try:
            props = container.get_blob_client(marker_name(prefix)).get_blob_properties()
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
