"""Transport: what upload and download share to move blobs between a folder and a datastore.

One client per transfer (pooled for its threads, streaming in bounded chunks), one progress
bar, one way to run work in a pool, and the checks that keep blob names and download
targets inside their folder.

Every request goes through ``retry.with_retry``, the only retry layer: the SDK's own is
switched off (``retries=0``) so a dead server costs ``attempts`` tries, not ``attempts``
times the SDK's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from threading import Lock
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.transport import HttpRequest
from azure.storage.blob import BlobServiceClient
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.errors import WorkspaceError

T = TypeVar("T")
# upload_blob reads a file whole when it fits one PUT (64 MiB by default) and download_blob
# buffers its first 32 MiB: capping both keeps memory at about threads x 4 MiB.
STREAM_CHUNK = 4 * 1024 * 1024


class RequestCounter:
    """Counts requests by kind (what an Azure bill counts, too), as the SDK's per-operation
    ``raw_request_hook``: pass ``**counter.options`` to each call to be counted.

    Kinds: ``put`` (a whole blob sent), ``copy`` (server-side copy), ``block`` and
    ``blocklist`` (a blob sent or patched by blocks), ``list``, ``get`` (reads: properties,
    block lists, downloads) and ``other``. Every attempt counts, retries included.
    Per operation rather than per client: a client is built by the endpoint (whose
    subclasses choose the credential), and an operation's options reach every request.
    """

    def __init__(self) -> None:
        self._lock = Lock()
        self._kinds: dict[str, int] = {}
        self.options: dict[str, Any] = {"raw_request_hook": self}

    def __call__(self, request: PipelineRequest[HttpRequest]) -> None:
        http = request.http_request
        comp = parse_qs(urlsplit(http.url).query).get("comp", [""])[0]
        if http.method == "PUT":
            if "x-ms-copy-source" in http.headers:
                kind = "copy"
            else:
                kind = {"": "put", "block": "block", "blocklist": "blocklist"}.get(comp, "other")
        elif http.method in ("GET", "HEAD"):
            kind = "list" if comp == "list" else "get"
        else:
            kind = "other"
        with self._lock:
            self._kinds[kind] = self._kinds.get(kind, 0) + 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._kinds.values())

    def by_kind(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._kinds.items()))


def counted(counter: RequestCounter | None) -> dict[str, Any]:
    """The options that make an SDK call count its requests in ``counter`` (if any)."""
    return counter.options if counter is not None else {}


def transfer_client(endpoint: BlobEndpoint, threads: int) -> BlobServiceClient:
    """One client for a whole transfer, pooled for ``threads``, streaming in bounded chunks."""
    return endpoint.client(
        pool=threads,
        retries=0,
        max_single_put_size=STREAM_CHUNK,
        max_single_get_size=STREAM_CHUNK,
    )


def clean_prefix(prefix: str) -> str:
    cleaned = prefix.strip("/")
    if not cleaned:
        raise ValueError("a transfer prefix must name a folder, not the container root")
    return cleaned


def check_paths(manifest: Manifest) -> None:
    """Refuse paths that would escape the folder (blob names or a download destination)."""
    for entry in manifest.entries:
        if any(part in ("", ".", "..") for part in entry.path.split("/")):
            raise WorkspaceError(f"manifest path {entry.path!r} is not a plain relative path")


def blob_name(prefix: str, entry: FileEntry) -> str:
    return f"{prefix}/{entry.path}"


def describe(prefix: str, entry: FileEntry) -> str:
    """How messages name one file of a transfer: its path and its blob."""
    return f"'{entry.path}' (blob '{blob_name(prefix, entry)}')"


class Meter:
    """A rich progress bar (files, bytes, bytes/s, ETA), shared by worker threads."""

    def __init__(self, label: str, files: int, nbytes: int, enabled: bool) -> None:
        self._lock = Lock()
        self._files, self._done = files, 0
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[done]}/{task.fields[files]} files"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not (enabled and sys.stderr.isatty()),
        )
        self._task = self._progress.add_task(label, total=nbytes, done=0, files=files)

    def __enter__(self) -> Meter:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def advance(self, nbytes: int) -> None:
        self._progress.update(self._task, advance=nbytes)

    def grow(self, files: int, nbytes: int) -> None:
        with self._lock:
            self._files += files
            total = (self._progress.tasks[0].total or 0) + nbytes
            self._progress.update(self._task, total=total, files=self._files)

    def file_done(self) -> None:
        with self._lock:
            self._done += 1
            self._progress.update(self._task, done=self._done)


def run_parallel(pool: ThreadPoolExecutor, calls: Iterable[Callable[[], T]]) -> list[T]:
    """All results, or the first failure after cancelling what has not started."""
    futures: list[Future[T]] = [pool.submit(call) for call in calls]
    try:
        return [future.result() for future in as_completed(futures)]
    except BaseException:
        for future in futures:
            future.cancel()
        raise
