"""LocalWorkspace: the offline emulator of an Azure ML workspace.

A workspace is a SQLite catalog file (one per stack) plus its default datastore, a blob
container in Azurite. Writes run in ``BEGIN IMMEDIATE`` transactions so two processes
cannot interleave; the catalog is created before the first write and removed last.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from mlstack.content.blobstore import BlobEndpoint
from mlstack.errors import NotFoundError, WorkspaceError

DATASTORE = "workspaceblobstore"  # Azure ML's name for a workspace's default datastore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workspace (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    name        TEXT NOT NULL,
    container   TEXT NOT NULL,
    description TEXT NOT NULL,
    tags        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class WorkspaceInfo:
    """The workspace record: identity (name, container) and mutable metadata."""

    name: str
    container: str
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "container": self.container,
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
            "created_at": self.created_at,
        }


class LocalWorkspace:
    """One stack's workspace: ``catalog`` file and ``container`` on ``endpoint``."""

    def __init__(self, catalog: Path, endpoint: BlobEndpoint, container: str) -> None:
        self.catalog = catalog
        self.endpoint = endpoint
        self.container = container

    @contextmanager
    def _db(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        if not write and not self.catalog.exists():
            raise NotFoundError(f"workspace catalog {self.catalog} does not exist")
        self.catalog.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.catalog, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            if write:
                conn.execute(_SCHEMA)  # not executescript: that would commit the transaction
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def create(self, name: str, description: str, tags: Mapping[str, str]) -> WorkspaceInfo:
        """Create the container and the record; an identical existing workspace is kept."""
        with suppress(ResourceExistsError):  # left by a crash after this step: carry on
            self.endpoint.client().create_container(self.container)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db(write=True) as db:
            row = db.execute("SELECT name, container FROM workspace").fetchone()
            if row is not None and tuple(row) != (name, self.container):
                raise WorkspaceError(
                    f"{self.catalog} already holds workspace {row[0]!r} on container {row[1]!r}: "
                    "destroy that stack first or choose another stack name"
                )
            db.execute(
                "INSERT INTO workspace VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(singleton) DO "
                "UPDATE SET description = excluded.description, tags = excluded.tags",
                (name, self.container, description, json.dumps(dict(tags), sort_keys=True), now),
            )
        return self.get()

    def get(self) -> WorkspaceInfo:
        """The record, checking that its datastore container still exists."""
        with self._db(write=False) as db:
            row = db.execute(
                "SELECT name, container, description, tags, created_at FROM workspace"
            ).fetchone()
        if row is None:
            raise NotFoundError(f"workspace catalog {self.catalog} holds no workspace")
        if not self.endpoint.client().get_container_client(self.container).exists():
            raise NotFoundError(f"datastore container {self.container!r} no longer exists")
        return WorkspaceInfo(row[0], row[1], row[2], json.loads(row[3]), row[4])

    def update(self, description: str, tags: Mapping[str, str]) -> WorkspaceInfo:
        """Change the mutable metadata in place."""
        with self._db(write=True) as db:
            changed = db.execute(
                "UPDATE workspace SET description = ?, tags = ?",
                (description, json.dumps(dict(tags), sort_keys=True)),
            ).rowcount
        if not changed:
            raise NotFoundError(f"workspace catalog {self.catalog} holds no workspace")
        return self.get()

    def delete(self) -> None:
        """Remove the container, then the catalog; safe to repeat after a partial delete."""
        with suppress(ResourceNotFoundError):
            self.endpoint.client().delete_container(self.container)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.catalog}{suffix}").unlink(missing_ok=True)
