"""The hash cache: a file's sha256, remembered under what ``stat`` said about it.

Re-hashing an unchanged 70k-file folder on every ``pulumi preview`` would cost seconds;
with this cache it costs stat calls (and with the tree memo, :mod:`mlstack.content.treememo`,
hardly more than the stat calls themselves). As in DVC, an entry is trusted while the file's
(inode, mtime_ns, size) are unchanged, and a changed key means a miss, so the file is
hashed again and the entry replaced. The trade-off, also DVC's: a rewrite that keeps
size and mtime (e.g. ``os.utime`` restoring the old time) is not noticed. To narrow the
"racily clean" case (a file changed twice within one mtime tick), entries whose mtime
is within :data:`RACY_WINDOW_NS` of the clock are not stored.

SQLite in WAL mode with a busy timeout, so two processes (two previews, or preview and
a provider) can share it; reads and writes are batched (≤999 parameters per statement,
one transaction per batch). The cache is disposable: an unreadable file degrades to
:class:`NoCache` with a logged warning rather than failing a preview.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from mlstack.content.sqlite import connect

log = logging.getLogger(__name__)

SQL_MAX_PARAMS = 999
"""SQLite's historical per-statement parameter limit; batches stay under it."""
RACY_WINDOW_NS = 2_000_000_000
"""Files modified this recently are hashed but not cached (their mtime may not move)."""
SCHEMA_VERSION = 1
CACHE_FILE = Path("cache") / "hashes.db"
"""Where the cache lives inside an mlstack home (``.mlstack/``)."""


@dataclass(frozen=True)
class StatKey:
    """What identifies one version of a file without reading it."""

    path: str
    """Absolute path of the file whose bytes are hashed (a symlink's target)."""
    inode: int
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, path: str, st: os.stat_result) -> StatKey:
        return cls(path, st.st_ino, st.st_mtime_ns, st.st_size)


class HashCache(Protocol):
    """What a scan needs from a cache; :class:`NoCache` satisfies it by remembering nothing."""

    def lookup(self, keys: Sequence[StatKey]) -> dict[StatKey, str]:
        """The cached sha256 of each key whose stat still matches; the rest are misses."""
        ...

    def store(self, hashes: Mapping[StatKey, str]) -> None:
        """Remember freshly computed hashes, replacing older entries for the same paths."""
        ...

    def tree(self, root: str) -> bytes | None:
        """The tree memo last stored for the folder ``root`` (opaque bytes), if any."""
        ...

    def store_tree(self, root: str, memo: bytes) -> None:
        """Replace the tree memo of the folder ``root``."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class NoCache:
    """The null cache: every lookup misses, every store is dropped; callers never branch."""

    def lookup(self, keys: Sequence[StatKey]) -> dict[StatKey, str]:
        return {}

    def store(self, hashes: Mapping[StatKey, str]) -> None:
        return None

    def tree(self, root: str) -> bytes | None:
        return None

    def store_tree(self, root: str, memo: bytes) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT PRIMARY KEY,
    inode INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL
) WITHOUT ROWID
""",
    # Added beside ``hashes`` without a version bump: older readers simply ignore it.
    "CREATE TABLE IF NOT EXISTS trees (root TEXT PRIMARY KEY, memo BLOB NOT NULL)",
)
_COLUMNS = 5


class SqliteHashCache:
    """The persistent cache: one SQLite file, one row per path."""

    def __init__(
        self, path: Path, *, timeout: float = 30.0, clock: Callable[[], int] = time.time_ns
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        # Autocommit mode: transactions are explicit, and writers take the lock up front
        # (BEGIN IMMEDIATE) so the busy timeout applies instead of a snapshot conflict.
        self._db = connect(path, timeout)
        try:
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._transaction():
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    self._db.execute("DROP TABLE IF EXISTS hashes")
                    self._db.execute("DROP TABLE IF EXISTS trees")
                    self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                for statement in _SCHEMA:
                    self._db.execute(statement)
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, path: Path) -> HashCache:
        """The cache at ``path``, or :class:`NoCache` (logged) if that file is unusable."""
        try:
            return cls(path)
        except (sqlite3.Error, OSError) as exc:
            log.warning("hash cache %s is unusable (%s); hashing without it", path, exc)
            return NoCache()

    @classmethod
    def in_home(cls, home: Path) -> HashCache:
        """The cache of an mlstack home, ``<home>/cache/hashes.db``."""
        return cls.open(home / CACHE_FILE)

    def lookup(self, keys: Sequence[StatKey]) -> dict[StatKey, str]:
        by_path = {key.path: key for key in keys}
        paths = list(by_path)
        found: dict[StatKey, str] = {}
        for start in range(0, len(paths), SQL_MAX_PARAMS):
            batch = paths[start : start + SQL_MAX_PARAMS]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT path, inode, mtime_ns, size, sha256 FROM hashes WHERE path IN ({marks})",  # noqa: S608 (only placeholders are interpolated)
                batch,
            )
            for path, inode, mtime_ns, size, sha256 in rows:
                key = by_path[path]
                if (key.inode, key.mtime_ns, key.size) == (inode, mtime_ns, size):
                    found[key] = sha256
        return found

    def store(self, hashes: Mapping[StatKey, str]) -> None:
        settled_before = self._clock() - RACY_WINDOW_NS
        rows = [
            (key.path, key.inode, key.mtime_ns, key.size, sha256)
            for key, sha256 in hashes.items()
            if key.mtime_ns < settled_before
        ]
        per_batch = SQL_MAX_PARAMS // _COLUMNS
        for start in range(0, len(rows), per_batch):
            with self._transaction():
                self._db.executemany(
                    "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)",
                    rows[start : start + per_batch],
                )

    def tree(self, root: str) -> bytes | None:
        row = self._db.execute("SELECT memo FROM trees WHERE root = ?", (root,)).fetchone()
        return None if row is None else bytes(row[0])

    def store_tree(self, root: str, memo: bytes) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO trees VALUES (?, ?)", (root, memo))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM hashes").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
