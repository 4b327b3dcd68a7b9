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

from mlstack.content.sqlite import connect
from mlstack.errors import NotFoundError

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS workspace (
        singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
        name        TEXT NOT NULL,
        container   TEXT NOT NULL,
        description TEXT NOT NULL,
        tags        TEXT NOT NULL,
        created_at  TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS containers (
        kind         TEXT NOT NULL,
        name         TEXT NOT NULL,
        next_version INTEGER NOT NULL,
        latest       TEXT,
        PRIMARY KEY (kind, name))""",
    """CREATE TABLE IF NOT EXISTS versions (
        kind        TEXT NOT NULL,
        name        TEXT NOT NULL,
        version     TEXT NOT NULL,
        type        TEXT NOT NULL,
        uri         TEXT NOT NULL,
        digest      TEXT NOT NULL,
        files       INTEGER NOT NULL,
        bytes       INTEGER NOT NULL,
        manifest    TEXT,
        description TEXT NOT NULL,
        tags        TEXT NOT NULL,
        properties  TEXT NOT NULL,
        stage       TEXT NOT NULL,
        archived    INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (kind, name, version))""",
    "CREATE INDEX IF NOT EXISTS versions_by_digest ON versions (kind, name, digest)",
)
# Catalogs of schema 2 kept data in tables of their own; fold them into ``versions``.
_FROM_2 = (
    """INSERT OR IGNORE INTO containers (kind, name, next_version)
        SELECT 'data', name, next_version FROM data_containers""",
    """INSERT OR IGNORE INTO versions SELECT 'data', name, version, type, uri, digest, files,
        bytes, manifest, description, tags, '{}', '', archived, created_at FROM data_versions""",
    "DROP TABLE data_versions",
    "DROP TABLE data_containers",
)
# Schema 3 had no ``latest`` label per container.
_FROM_3 = ("ALTER TABLE containers ADD COLUMN latest TEXT",)
# Schema 4 moved ``latest`` to old content registered again; Azure ML's is the version
# created last, which is the newest row (versions are only ever inserted, never re-keyed).
_FROM_4 = (
    """UPDATE containers SET latest = (SELECT v.version FROM versions v
        WHERE v.kind = containers.kind AND v.name = containers.name
        ORDER BY v.rowid DESC LIMIT 1)""",
)
# Bump when _SCHEMA changes; older catalogs are brought up to date on first open.
SCHEMA_VERSION = 5


class Catalog:
    """One catalog file; connections are opened per transaction (safe across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def transaction(self, *, write: bool, create: bool = False) -> Iterator[sqlite3.Connection]:
        """A transaction; a write one holds the write lock. Only ``create`` makes the file,
        so archiving or updating in a workspace that is gone cannot resurrect an empty one.
        """
        if not create and not self.path.exists():
            raise NotFoundError(f"workspace catalog {self.path} does not exist")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, timeout=60)
        try:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            if found < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:  # not executescript: it would commit early
                    conn.execute(statement)
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                if "data_versions" in tables:
                    for statement in _FROM_2:
                        conn.execute(statement)
                columns = {r[1] for r in conn.execute("PRAGMA table_info(containers)")}
                if "latest" not in columns:
                    for statement in _FROM_3:
                        conn.execute(statement)
                if found < 5:  # the schema that relabels latest
                    for statement in _FROM_4:
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
