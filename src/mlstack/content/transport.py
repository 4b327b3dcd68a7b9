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
import time
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

from mlstack.content.blobstore import MIB, BlobEndpoint
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


LINE_SECONDS = 10.0
"""How often a transfer with no terminal (a provider under ``pulumi up``) prints a line."""


class Meter:
    """Progress shared by worker threads: a rich bar (files, bytes, bytes/s, ETA) on a
    terminal; elsewhere — a provider, whose stderr the Pulumi engine shows as it comes — a
    plain line every :data:`LINE_SECONDS`, so a long transfer is never silent."""

    def __init__(
        self, label: str, files: int, nbytes: int, enabled: bool, *, every: float = LINE_SECONDS
    ) -> None:
        self._lock = Lock()
        self._label = label
        self._files, self._done = files, 0
        self._bytes, self._sent = nbytes, 0
        self._started = self._last = time.monotonic()
        self._every = every
        tty = sys.stderr.isatty()
        self._lines = enabled and not tty
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[done]}/{task.fields[files]} files"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not (enabled and tty),
            redirect_stderr=tty,  # else rich swaps sys.stderr for its proxy while it runs
            redirect_stdout=tty,
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
        with self._lock:
            self._sent += nbytes
            self._line_if_due()

    def grow(self, files: int, nbytes: int) -> None:
        with self._lock:
            self._files += files
            self._bytes += nbytes
            self._progress.update(self._task, total=self._bytes, files=self._files)

    def file_done(self) -> None:
        with self._lock:
            self._done += 1
            self._progress.update(self._task, done=self._done)
            self._line_if_due()

    def _line_if_due(self) -> None:
        """One progress line when the interval has passed (called under the lock)."""
        now = time.monotonic()
        if not self._lines or now - self._last < self._every:
            return
        self._last = now
        rate = self._sent / max(now - self._started, 1e-9) / MIB
        share = f" ({100 * self._sent // self._bytes}%)" if self._bytes else ""
        print(
            f"{self._label}: {self._done}/{self._files} files, {self._sent / MIB:.1f}/"
            f"{self._bytes / MIB:.1f} MiB{share}, {rate:.1f} MiB/s",
            file=sys.stderr,
            flush=True,
        )


def run_parallel(pool: ThreadPoolExecutor, calls: Iterable[Callable[[], T]]) -> list[T]:
    """All results, or the first failure after cancelling what has not started."""
    futures: list[Future[T]] = [pool.submit(call) for call in calls]
    try:
        return [future.result() for future in as_completed(futures)]
    except BaseException:
        for future in futures:
            future.cancel()
        raise
