"""Blob transfer: put a manifest's files into a datastore folder, sending only what it lacks.

A version lands as a plain folder (``LocalUpload/<hex digest>/<asset name>/<relpath>``) that
a training job can mount as it is, so nothing of ours lives inside it: each blob carries its
sha256 as metadata, and the completion marker is a hidden sibling of the folder, written last.
Whatever the datastore already holds is reused: blobs already in place are skipped (resume
after a crash) and content known under another name is copied server-side (Copy Blob within
the account; Azurite completes it at once, Azure may report it pending and is polled).

Retries, the client, the progress bar and the pool come from :mod:`mlstack.content.transport`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.completion import (
    DIGEST,
    SHA256,
    complaint,
    is_complete,
    listing,
    marker_digest,
    marker_name,
    problems,
)
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.retry import DEFAULT_RETRY, RetryableError, RetryPolicy, with_retry
from mlstack.content.transport import (
    Meter,
    blob_name,
    check_paths,
    clean_prefix,
    describe,
    run_parallel,
    transfer_client,
)
from mlstack.errors import WorkspaceError

__all__ = [
    "RetryPolicy",
    "TransferReport",
    "is_complete",
    "marker_name",
    "upload",
]

COPY_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class TransferReport:
    """What one upload did; ``seconds`` is wall time."""

    uploaded_files: int
    uploaded_bytes: int
    copied_files: int
    copied_bytes: int
    skipped_files: int
    skipped_bytes: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"uploaded {self.uploaded_files} files ({self.uploaded_bytes} B), "
            f"copied {self.copied_files} ({self.copied_bytes} B), "
            f"reused {self.skipped_files} in {self.seconds:.1f} s"
        )


class _CopyFailedError(RetryableError):
    """The service reported a server-side copy as failed or aborted: worth another try."""


class _HashingReader:
    """A forward-only view of a file that hashes and meters what it hands out.

    Having no ``seek`` makes upload_blob read each byte exactly once, in order, so the hash
    is of exactly the bytes sent, and a file edited since it was hashed is caught.
    """

    def __init__(self, raw: BinaryIO, meter: Meter) -> None:
        self._raw, self._meter = raw, meter
        self._hash = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._hash.update(data)
        self.count += len(data)
        self._meter.advance(len(data))
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


Kind = Literal["uploaded", "copied"]


@dataclass(frozen=True)
class _Done:
    kind: Kind
    entry: FileEntry


def _changed(path: Path) -> WorkspaceError:
    return WorkspaceError(
        f"{path} changed since it was hashed: run again so the new content gets a new version"
    )


class _Uploader:
    """The per-file work of one upload call; holds no state that changes once built."""

    def __init__(
        self,
        root: Path,
        container: ContainerClient,
        prefix: str,
        meter: Meter,
        retry: RetryPolicy,
    ) -> None:
        self.root, self.container, self.prefix = root, container, prefix
        self.meter, self.retry = meter, retry

    def step(self, entry: FileEntry, source: str | None) -> Callable[[], _Done]:
        """The work for one file: send it (no source) or copy it from ``source``."""
        if source is None:
            return partial(self.send, entry)
        return partial(self.copy, entry, source)

    def send(self, entry: FileEntry) -> _Done:
        with_retry(
            lambda: self._send_once(entry), f"uploading {describe(self.prefix, entry)}", self.retry
        )
        self.meter.file_done()
        return _Done("uploaded", entry)

    def _send_once(self, entry: FileEntry) -> None:
        blob = self.container.get_blob_client(blob_name(self.prefix, entry))
        path = self.root / entry.path
        with path.open("rb") as raw:
            if os.fstat(raw.fileno()).st_size != entry.size:
                raise _changed(path)
            reader = _HashingReader(raw, self.meter)
            try:
                blob.upload_blob(
                    reader,  # type: ignore[arg-type]  # duck-typed: upload_blob only calls read
                    length=entry.size,
                    overwrite=True,
                    metadata={SHA256: entry.sha256},
                    max_concurrency=1,
                )
                extra = raw.read(1)
            except BaseException:
                self.meter.advance(-reader.count)  # the retry will count these bytes again
                raise
        if reader.count != entry.size or extra or reader.hexdigest() != entry.sha256:
            blob.delete_blob()  # its sha256 metadata would vouch for bytes it does not hold
            raise _changed(path)

    def _source_url(self, source: str) -> str:
        """A blob of this container, or ``/<container>/<blob>`` in another of the account
        (how a promotion copies from one workspace's datastore to another's)."""
        if not source.startswith("/"):
            return str(self.container.get_blob_client(source).url)
        other, _, name = source[1:].partition("/")
        account_url = self.container.url.rsplit("/", 1)[0]
        return f"{account_url}/{other}/{quote(name)}"

    def copy(self, entry: FileEntry, source: str) -> _Done:
        """Copy ``source`` server-side; the copy inherits its sha256 metadata, checked later."""
        try:
            with_retry(
                lambda: self._copy_once(entry, source),
                f"copying {describe(self.prefix, entry)} from blob '{source}'",
                self.retry,
            )
        except WorkspaceError as error:
            cause = error.__cause__
            if isinstance(cause, ResourceNotFoundError):  # the known source is gone
                return self.send(entry)
            raise
        self.meter.file_done()
        return _Done("copied", entry)

    def _copy_once(self, entry: FileEntry, source: str) -> None:
        target = self.container.get_blob_client(blob_name(self.prefix, entry))
        source_url = self._source_url(source)
        started = target.start_copy_from_url(source_url)
        status = started.get("copy_status")
        deadline, pause = time.monotonic() + COPY_TIMEOUT_S, 0.1
        while status == "pending" and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            status = target.get_blob_properties().copy.status
        if status == "pending":  # a new copy cannot start while this one is pending
            target.abort_copy(str(started["copy_id"]))
        if status != "success":
            raise _CopyFailedError(f"server-side copy ended as {status!r}")


@dataclass(frozen=True)
class _Plan:
    """Per file: already in place, or (entry, copy source or None to send) in two waves."""

    skipped: tuple[FileEntry, ...]
    first: tuple[tuple[FileEntry, str | None], ...]
    later: tuple[tuple[FileEntry, str | None], ...]


def _plan(
    manifest: Manifest,
    prefix: str,
    existing: Mapping[str, tuple[int, str | None]],
    known: Mapping[str, str],
) -> _Plan:
    """Skip what is in place; copy known content (blobs skipped here count as known); send
    each other sha256 once, copying its duplicates from that blob in a second wave."""
    skipped = [
        e for e in manifest.entries if existing.get(blob_name(prefix, e)) == (e.size, e.sha256)
    ]
    sources = dict(known)
    for entry in skipped:
        sources.setdefault(entry.sha256, blob_name(prefix, entry))
    in_place = {e.path for e in skipped}
    first: list[tuple[FileEntry, str | None]] = []
    later: list[tuple[FileEntry, str | None]] = []
    sent: dict[str, str] = {}
    for entry in (e for e in manifest.entries if e.path not in in_place):
        if entry.sha256 in sources:
            first.append((entry, sources[entry.sha256]))
        elif entry.sha256 in sent:
            later.append((entry, sent[entry.sha256]))
        else:
            first.append((entry, None))
            sent[entry.sha256] = blob_name(prefix, entry)
    return _Plan(tuple(skipped), tuple(first), tuple(later))


def _report(
    started: float,
    uploaded: Iterable[FileEntry],
    copied: Iterable[FileEntry],
    skipped: Iterable[FileEntry],
) -> TransferReport:
    up, cp, sk = list(uploaded), list(copied), list(skipped)
    return TransferReport(
        uploaded_files=len(up),
        uploaded_bytes=sum(e.size for e in up),
        copied_files=len(cp),
        copied_bytes=sum(e.size for e in cp),
        skipped_files=len(sk),
        skipped_bytes=sum(e.size for e in sk),
        seconds=time.monotonic() - started,
    )


def upload(  # noqa: PLR0917 - positional order is the one the issue specifies
    root: Path,
    manifest: Manifest,
    endpoint: BlobEndpoint,
    container: str,
    prefix: str,
    known: Mapping[str, str],
    threads: int = 8,
    progress: bool = True,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> TransferReport:
    """Make ``<prefix>/`` a verified copy of ``manifest`` (files under ``root``), marker last.

    ``known`` maps sha256 → a blob holding that content, in ``container`` (e.g. from earlier
    versions) or as ``/<container>/<blob>`` in another container of the same account; such
    content is copied server-side instead of being sent again.
    """
    started = time.monotonic()
    prefix = clean_prefix(prefix)
    check_paths(manifest)
    with transfer_client(endpoint, threads) as service:
        client = service.get_container_client(container)
        if marker_digest(client, prefix, retry) == manifest.digest:
            return _report(started, [], [], manifest.entries)
        existing = listing(client, prefix, retry)
        expected = {blob_name(prefix, e) for e in manifest.entries}
        stray = {name: "not in the manifest" for name in existing.keys() - expected}
        if stray:  # refuse before sending anything: the folder must end up a plain copy
            raise complaint(container, prefix, stray)
        plan = _plan(manifest, prefix, existing, known)

        to_send = sum(e.size for e, source in plan.first if source is None)
        files = len(plan.first) + len(plan.later)
        with (
            Meter(f"upload {prefix.rpartition('/')[2]}", files, to_send, progress) as meter,
            ThreadPoolExecutor(max_workers=threads) as pool,
        ):
            work = _Uploader(root, client, prefix, meter, retry)
            done = run_parallel(pool, [work.step(e, s) for e, s in plan.first])
            done += run_parallel(pool, [work.step(e, s) for e, s in plan.later])
            uploaded = [d.entry for d in done if d.kind == "uploaded"]
            copied = [d.entry for d in done if d.kind == "copied"]

            # A copy inherits its source's metadata, so a source that did not hold what
            # ``known`` claimed shows up here; those files are sent from the client instead.
            wrong = problems(manifest, prefix, listing(client, prefix, retry))
            redo = [e for e in copied if blob_name(prefix, e) in wrong]
            if redo and len(redo) == len(wrong):
                meter.grow(0, sum(e.size for e in redo))
                run_parallel(pool, [work.step(e, None) for e in redo])
                copied = [e for e in copied if e not in redo]
                uploaded += redo
                wrong = problems(manifest, prefix, listing(client, prefix, retry))
        if wrong:
            raise complaint(container, prefix, wrong)

        with_retry(
            lambda: client.upload_blob(
                marker_name(prefix),
                manifest.to_json().encode(),
                overwrite=True,
                metadata={DIGEST: manifest.digest},
            ),
            f"writing the completion marker of '{prefix}/'",
            retry,
        )
    return _report(started, uploaded, copied, plan.skipped)
