"""The local workspace's SQLite catalog: schema and transactions.

Every write runs in ``BEGIN IMMEDIATE``, which takes the database's write lock up front:
two processes registering at once are serialised, so they can never both read the same
``next_version`` and create duplicate versions. WAL mode lets readers proceed meanwhile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlstack.errors import NotFoundError

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS workspace (
        singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
        name        TEXT NOT NULL,
        container   TEXT NOT NULL,
        description TEXT NOT NULL,
        tags        TEXT NOT NULL,
        created_at  TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS data_containers (
        name         TEXT PRIMARY KEY,
        next_version INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS data_versions (
        name        TEXT NOT NULL REFERENCES data_containers(name),
        version     TEXT NOT NULL,
        type        TEXT NOT NULL,
        uri         TEXT NOT NULL,
        digest      TEXT NOT NULL,
        files       INTEGER NOT NULL,
        bytes       INTEGER NOT NULL,
        manifest    TEXT NOT NULL,
        description TEXT NOT NULL,
        tags        TEXT NOT NULL,
        archived    INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (name, version))""",
    "CREATE INDEX IF NOT EXISTS data_by_digest ON data_versions (name, digest)",
)
# Bump when _SCHEMA changes; older catalogs are brought up to date on first open.
SCHEMA_VERSION = 2


class Catalog:
    """One catalog file; connections are opened per transaction (safe across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction; a write one creates the schema first and holds the write lock."""
        if not write and not self.path.exists():
            raise NotFoundError(f"workspace catalog {self.path} does not exist")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:  # not executescript: it would commit early
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def remove(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
