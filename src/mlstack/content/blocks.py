"""Large files by blocks: block IDs that name their content, so a changed file reuses the
unchanged blocks of its previous version's blob server-side and sends only the rest.

A file larger than :data:`BLOCK_SIZE` is sent as fixed-size blocks whose IDs carry the
block's index and sha256 (``00000003`` + its first 40 hex digits). A blob therefore
describes its own layout: Get Block List returns its committed IDs (and sizes) in order,
and Copy Blob keeps them (Azure copies a block blob's committed block list, and so does
Azurite), so no manifest, marker or side table has to remember it — the manifest and its
digest stay as they are.

A file that changed in part is stored as: Copy Blob of the previous version's blob onto
the new name (one server-side request whatever the size), Put Block for each block the
base does not hold, and Put Block List naming every block in order with state ``latest``,
which resolves a reused ID to the base's committed block and a new ID to the block just
sent (IDs differ whenever contents do). All-``latest`` matters: azure-storage-blob's
``commit_block_list`` groups blocks by state, committed first, so mixing states would
scramble the order. Put Block From URL could skip the copy, but Azurite 3.35 does not
implement it, and it costs a request per reused block.

Until the Put Block List, the new blob holds the base's bytes under the base's sha256
metadata: a crash in between leaves a blob that the next run's listing sees as wrong (and
sends again), never one that vouches for content it lacks.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobClient, BlockState

from mlstack.content.blobstore import MIB
from mlstack.content.completion import SHA256
from mlstack.content.manifest import FileEntry
from mlstack.content.retry import RetryPolicy, with_retry
from mlstack.content.transport import Meter, RequestCounter
from mlstack.errors import WorkspaceError

BLOCK_SIZE = 4 * MIB
"""Block size of files sent by blocks; files up to this size go in one Put Blob."""
# 48 characters, 64 once base64-encoded: Azure takes IDs of up to 64 bytes, but Azurite's SQL
# store keeps the encoded ID in a VARCHAR(64). 160 bits of sha256 still name a block.
_INDEX_DIGITS, _HASH_DIGITS = 8, 40
MAX_BASES = 3
"""At most this many earlier blobs of the same path are asked for their block lists."""
COPY_TIMEOUT_S = 600.0


def block_id(index: int, sha256_hex: str) -> str:
    return f"{index:0{_INDEX_DIGITS}d}{sha256_hex[:_HASH_DIGITS]}"


def content_of(block: str) -> str | None:
    """The (truncated) sha256 a block ID of ours names, or None for anybody else's ID."""
    index, digest = block[:_INDEX_DIGITS], block[_INDEX_DIGITS:]
    if len(digest) != _HASH_DIGITS or not index.isdigit():
        return None
    try:
        int(digest, 16)
    except ValueError:
        return None
    return digest


def file_blocks(path: Path, block_size: int = BLOCK_SIZE) -> tuple[list[str], str, int]:
    """sha256 of each block of the file, of the whole file, and the bytes read (one pass)."""
    whole, hashes, read = hashlib.sha256(), [], 0
    with path.open("rb") as raw:
        for data in _chunks(raw, block_size):
            whole.update(data)
            hashes.append(hashlib.sha256(data).hexdigest())
            read += len(data)
    return hashes, whole.hexdigest(), read


def _chunks(raw: BinaryIO, size: int) -> Iterator[bytes]:
    while data := raw.read(size):
        yield data


@dataclass(frozen=True)
class Layout:
    """A blob's committed blocks as ours name them: (content, size) → block ID."""

    source: str
    blocks: dict[tuple[str, int], str]

    @classmethod
    def of(cls, source: str, committed: list[BlobBlock]) -> Layout | None:
        """The layout of a blob whose blocks all carry our IDs, else None (not reusable)."""
        blocks: dict[tuple[str, int], str] = {}
        for block in committed:
            content = content_of(str(block.id))
            if content is None:
                return None
            blocks.setdefault((content, int(block.size or 0)), str(block.id))
        return cls(source, blocks) if blocks else None

    def reusable(self, hashes: list[str], sizes: list[int]) -> int:
        """Bytes of the new file this base holds already."""
        return sum(
            size
            for sha, size in zip(hashes, sizes, strict=True)
            if (sha[:_HASH_DIGITS], size) in self.blocks
        )


@dataclass(frozen=True)
class Outcome:
    """How one large file was stored: bytes sent, bytes reused from ``base`` (if any),
    and the ETag of the blob committed."""

    sent: int
    reused: int
    base: str | None
    etag: str


class _BaseGoneError(Exception):
    """The base blob vanished or its copy did not succeed: store the file without it."""


class BlockSender:
    """Stores one large file by blocks, on top of an earlier blob of it when that helps."""

    def __init__(  # noqa: PLR0917 - one upload's fixed context
        self,
        root: Path,
        target: Callable[[FileEntry], BlobClient],
        source: Callable[[str], BlobClient],
        start_copy: Callable[[FileEntry, str], Mapping[str, str]],
        meter: Meter,
        retry: RetryPolicy,
        counter: RequestCounter,
    ) -> None:
        """``target`` gives an entry's blob; ``source`` the blob a ``known`` value names;
        ``start_copy`` copies a source over an entry's blob (sealed by its recorded ETag),
        answering the response headers."""
        self.root, self.target, self.source, self.start_copy = root, target, source, start_copy
        self.meter, self.retry, self.count = meter, retry, counter.options

    def send(self, entry: FileEntry, bases: list[str]) -> Outcome:
        """Store ``entry`` under its blob name; ``bases`` are earlier blobs of the same path."""
        path = self.root / entry.path
        sizes = _sizes(entry.size)
        if not bases:
            return self._stage_all(entry, path, sizes)
        hashes, whole, read = file_blocks(path)
        if read != entry.size or whole != entry.sha256:
            raise changed(path)
        base = self._best_base(entry, bases, hashes, sizes)
        if base is None:
            return self._stage_all(entry, path, sizes)
        try:
            return self._patch(entry, path, base, hashes, sizes)
        except _BaseGoneError:
            return self._stage_all(entry, path, sizes)

    def _best_base(
        self, entry: FileEntry, bases: list[str], hashes: list[str], sizes: list[int]
    ) -> Layout | None:
        best, best_bytes = None, 0
        for base in bases[:MAX_BASES]:
            layout = self._layout(base)
            reusable = layout.reusable(hashes, sizes) if layout else 0
            if layout is not None and reusable > best_bytes:
                best, best_bytes = layout, reusable
        return best

    def _layout(self, base: str) -> Layout | None:
        source = self.source(base)
        try:
            committed, _ = with_retry(
                lambda: source.get_block_list("committed", **self.count),
                f"reading the block list of '{base}'",
                self.retry,
            )
        except WorkspaceError as error:
            if isinstance(error.__cause__, ResourceNotFoundError):
                return None
            raise
        return Layout.of(base, committed)

    def _stage_all(self, entry: FileEntry, path: Path, sizes: list[int]) -> Outcome:
        """Every block from the file, hashed as it is sent; committed only if all match."""
        blob, ids, whole, sent = self.target(entry), [], hashlib.sha256(), 0
        with path.open("rb") as raw:
            for index, data in enumerate(_chunks(raw, BLOCK_SIZE)):
                whole.update(data)
                ids.append(self._stage(blob, index, data, entry))
                sent += len(data)
        if sent != entry.size or whole.hexdigest() != entry.sha256 or len(ids) != len(sizes):
            raise changed(path)  # nothing committed: the service drops uncommitted blocks
        return Outcome(sent, 0, None, self._commit(blob, ids, entry))

    def _patch(
        self, entry: FileEntry, path: Path, base: Layout, hashes: list[str], sizes: list[int]
    ) -> Outcome:
        blob = self.target(entry)
        self._copy(entry, blob, base.source)
        ids: list[str] = []
        used: set[str] = set()
        sent = reused = 0
        with path.open("rb") as raw:
            for index, (sha, size) in enumerate(zip(hashes, sizes, strict=True)):
                found = base.blocks.get((sha[:_HASH_DIGITS], size))
                if found is not None and found not in used:  # an ID appears once per list
                    used.add(found)
                    ids.append(found)
                    reused += size
                    continue
                raw.seek(index * BLOCK_SIZE)
                data = raw.read(size)
                if hashlib.sha256(data).hexdigest() != sha:
                    raise changed(path)
                ids.append(self._stage(blob, index, data, entry))
                sent += size
        etag = self._commit(blob, ids, entry)
        self.meter.advance(reused)
        return Outcome(sent, reused, base.source, etag)

    def _copy(self, entry: FileEntry, blob: BlobClient, source: str) -> None:
        """Copy the base over the target and wait for it: blocks cannot be staged while a
        copy is pending (Azure completes a same-account block blob copy at once, usually).
        A base changed since its ETag was recorded (412) is not used."""

        def run() -> str:
            try:
                started = self.start_copy(entry, source)
            except ResourceNotFoundError:
                return "gone"
            except HttpResponseError as error:
                if error.status_code == 412:
                    return "changed"
                raise
            status = started.get("x-ms-copy-status", "")
            deadline, pause = time.monotonic() + COPY_TIMEOUT_S, 0.1
            while status == "pending" and time.monotonic() < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
                status = str(blob.get_blob_properties(**self.count).copy.status)
            if status == "pending":
                blob.abort_copy(started["x-ms-copy-id"], **self.count)
            return status

        if with_retry(run, f"copying '{source}' to patch it", self.retry) != "success":
            raise _BaseGoneError(f"the copy of '{source}' did not succeed")

    def _stage(self, blob: BlobClient, index: int, data: bytes, entry: FileEntry) -> str:
        name = block_id(index, hashlib.sha256(data).hexdigest())
        with_retry(
            lambda: blob.stage_block(
                name, data, length=len(data), validate_content=True, **self.count
            ),
            f"sending block {index} of '{entry.path}'",
            self.retry,
        )
        self.meter.advance(len(data))
        return name

    def _commit(self, blob: BlobClient, ids: list[str], entry: FileEntry) -> str:
        """Commit the blob; its ETag."""
        blocks = [BlobBlock(block_id=name, state=BlockState.LATEST) for name in ids]
        result = with_retry(
            lambda: blob.commit_block_list(blocks, metadata={SHA256: entry.sha256}, **self.count),
            f"committing the blocks of '{entry.path}'",
            self.retry,
        )
        return str(result.get("etag") or "")


def _sizes(size: int) -> list[int]:
    full, rest = divmod(size, BLOCK_SIZE)
    return [BLOCK_SIZE] * full + ([rest] if rest else [])


def changed(path: Path) -> WorkspaceError:
    return WorkspaceError(
        f"{path} changed since it was hashed: run again so the new content gets a new version"
    )
