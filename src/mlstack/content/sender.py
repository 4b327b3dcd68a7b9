"""The per-file work of an upload: send a file, copy known content, or patch a large file.

Every step returns a :class:`Done` saying what it did. Copies are started,
never waited on one by one: a copy the service reports ``pending`` (Azure may, for a large
or cross-account source) comes back as such, and :meth:`Sender.settle` polls all pending
copies together once everything has been started.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient, ContainerClient

from mlstack.content.blocks import BLOCK_SIZE, BlockSender, changed
from mlstack.content.completion import SHA256
from mlstack.content.manifest import FileEntry
from mlstack.content.retry import RetryPolicy, with_retry
from mlstack.content.transport import Meter, RequestCounter, blob_name, describe, run_parallel
from mlstack.errors import WorkspaceError

COPY_TIMEOUT_S = 600.0
"""How long pending copies may take, together, before they are aborted."""

Kind = Literal["uploaded", "copied", "patched", "pending"]


@dataclass(frozen=True)
class Done:
    """What one step did to one file."""

    kind: Kind
    entry: FileEntry
    sent: int = 0
    """Bytes of the file sent over the wire."""
    reused: int = 0
    """Bytes taken server-side from an earlier blob's blocks (``patched``)."""
    source: str = ""
    copy_id: str = ""
    """For a ``pending`` copy: where from, and the service's copy id."""


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


class Sender:
    """The steps of one upload call; holds no state that changes once built."""

    def __init__(
        self,
        root: Path,
        container: ContainerClient,
        prefix: str,
        meter: Meter,
        *,
        retry: RetryPolicy,
        counter: RequestCounter,
        bases: Callable[[FileEntry], list[str]],
        source_sas: str = "",
    ) -> None:
        """``bases`` names earlier blobs of an entry's path, for block reuse; ``source_sas``
        signs copy sources given as absolute URLs (blobs of another storage account)."""
        self.root, self.container, self.prefix = root, container, prefix
        self._source_sas = source_sas  # a secret: only ever put in a copy request's source URL
        self.meter, self.retry, self.bases, self.count = meter, retry, bases, counter.options
        self.blocks = BlockSender(root, self._target, self._source, meter, retry, counter)

    def step(self, entry: FileEntry, source: str | None) -> Callable[[], Done]:
        """The work for one file: send it (no source) or copy it from ``source``."""
        if source is None:
            return partial(self.send, entry)
        return partial(self.copy, entry, source)

    def _target(self, entry: FileEntry) -> BlobClient:
        return self.container.get_blob_client(blob_name(self.prefix, entry))

    def _source(self, source: str) -> BlobClient:
        """A blob of this container, ``/<container>/<blob>`` in another of the account, or
        the absolute URL of a blob in another account, read with ``source_sas`` (how a
        promotion copies from one workspace's datastore to another's)."""
        if source.startswith(("https://", "http://")):
            signed = f"{source}?{self._source_sas}" if self._source_sas else source
            return BlobClient.from_blob_url(signed, api_version=self.container.api_version)
        if not source.startswith("/"):
            return self.container.get_blob_client(source)
        other, _, name = source[1:].partition("/")
        container_url, _, sas = self.container.url.partition("?")  # a SAS rides in the query
        url = f"{container_url.rsplit('/', 1)[0]}/{other}/{quote(name)}"
        return BlobClient.from_blob_url(
            f"{url}?{sas}" if sas else url,
            credential=None if sas else self.container.credential,
            api_version=self.container.api_version,
        )

    def send(self, entry: FileEntry) -> Done:
        if not self.root.is_dir():  # a promotion: every file had to come by server-side copy
            raise WorkspaceError(
                f"{describe(self.prefix, entry)} could not be copied server-side from its "
                "source, and this machine holds no copy to send: check that the source "
                "version's content is still in its datastore, then run again"
            )
        if entry.size > BLOCK_SIZE:
            outcome = self.blocks.send(entry, self.bases(entry))
            self.meter.file_done()
            kind: Kind = "patched" if outcome.base else "uploaded"
            return Done(kind, entry, sent=outcome.sent, reused=outcome.reused)
        with_retry(
            lambda: self._send_once(entry), f"uploading {describe(self.prefix, entry)}", self.retry
        )
        self.meter.file_done()
        return Done("uploaded", entry, sent=entry.size)

    def _send_once(self, entry: FileEntry) -> None:
        blob = self._target(entry)
        path = self.root / entry.path
        with path.open("rb") as raw:
            if os.fstat(raw.fileno()).st_size != entry.size:
                raise changed(path)
            reader = _HashingReader(raw, self.meter)
            try:
                blob.upload_blob(
                    reader,  # type: ignore[arg-type]  # duck-typed: upload_blob only calls read
                    length=entry.size,
                    overwrite=True,
                    metadata={SHA256: entry.sha256},
                    max_concurrency=1,
                    validate_content=True,  # the service checks the body's MD5
                    **self.count,
                )
                extra = raw.read(1)
            except BaseException:
                self.meter.advance(-reader.count)  # the retry will count these bytes again
                raise
        if reader.count != entry.size or extra or reader.hexdigest() != entry.sha256:
            # Its sha256 metadata would vouch for bytes it does not hold.
            blob.delete_blob(**self.count)
            raise changed(path)

    def copy(self, entry: FileEntry, source: str) -> Done:
        """Start a server-side copy of ``source``; the copy inherits its sha256 metadata,
        which the verify step checks. A source that is gone is sent from the client."""
        target = self._target(entry)
        try:
            result = with_retry(
                lambda: target.start_copy_from_url(self._source(source).url, **self.count),
                f"copying {describe(self.prefix, entry)} from blob '{source}'",
                self.retry,
            )
        except WorkspaceError as error:
            cause = error.__cause__
            # A source that is gone is sent instead; one that refused us (403, reported as
            # CannotVerifyCopySource like a missing one) is for the caller to name.
            if isinstance(cause, ResourceNotFoundError) and cause.status_code != 403:
                return self.send(entry)
            raise
        if result.get("copy_status") == "pending":
            return Done("pending", entry, source=source, copy_id=str(result["copy_id"]))
        if result.get("copy_status") != "success":
            return self.send(entry)
        self.meter.file_done()
        return Done("copied", entry)

    def settle(self, done: list[Done], pool: ThreadPoolExecutor) -> list[Done]:
        """``done`` with every pending copy resolved: polled together, with backoff; a
        failed copy is sent from the client, one still pending at the deadline aborted."""
        pending = [d for d in done if d.kind == "pending"]
        settled = [d for d in done if d.kind != "pending"]
        deadline, pause = time.monotonic() + COPY_TIMEOUT_S, 0.1
        while pending:
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            statuses = run_parallel(pool, [partial(self._status, d) for d in pending])
            still = [d for d, status in statuses if status == "pending"]
            for item, status in statuses:
                if status == "success":
                    self.meter.file_done()
                    settled.append(replace(item, kind="copied", copy_id=""))
                elif status != "pending":
                    settled.append(self.send(item.entry))
            if still and time.monotonic() > deadline:
                for item in still:
                    self._target(item.entry).abort_copy(item.copy_id, **self.count)
                names = ", ".join(describe(self.prefix, d.entry) for d in still[:5])
                raise WorkspaceError(
                    f"{len(still)} server-side copies did not finish in "
                    f"{COPY_TIMEOUT_S:.0f} s ({names}); run again to resume"
                )
            pending = still
        return settled

    def _status(self, item: Done) -> tuple[Done, str]:
        props = with_retry(
            partial(self._target(item.entry).get_blob_properties, **self.count),
            f"checking the copy of {describe(self.prefix, item.entry)}",
            self.retry,
        )
        return item, str(props.copy.status)
