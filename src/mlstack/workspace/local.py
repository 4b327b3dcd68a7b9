"""LocalWorkspace: the offline emulator of an Azure ML workspace.

A workspace is a SQLite catalog (one per stack) plus its default datastore, a blob
container in Azurite. Asset semantics follow Azure ML: ``(name, version)`` is write-once,
the next version is the container's next integer, identical content is never a new
version, data versions are archived rather than deleted, and illegal changes fail with
the service's own wording (e.g. "Asset paths cannot be updated.").
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import Manifest
from mlstack.errors import ImmutableError, NotFoundError, WorkspaceError
from mlstack.services.azurite import Azurite
from mlstack.workspace.asset import DATASTORE, DataVersion, upload_prefix
from mlstack.workspace.catalog import Catalog

__all__ = ["DATASTORE", "LocalWorkspace", "WorkspaceInfo"]

_DATA_COLUMNS = (
    "name, version, type, uri, digest, files, bytes, description, tags, archived, created_at"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _data(row: tuple[object, ...]) -> DataVersion:
    name, version, type_, uri, digest, files, size, description, tags, archived, created = row
    return DataVersion(
        str(name), str(version), str(type_), str(uri), str(digest), int(str(files)),
        int(str(size)), str(description), json.loads(str(tags)), bool(archived), str(created),
    )  # fmt: skip


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
    """One stack's workspace: ``catalog`` file and ``container`` on a blob endpoint.

    ``endpoint`` is called only when blob storage is needed, so reading the catalog
    (as a preview does) works while Azurite is stopped.
    """

    def __init__(self, catalog: Path, container: str, endpoint: Callable[[], BlobEndpoint]) -> None:
        self.catalog = Catalog(catalog)
        self.container = container
        self._endpoint = endpoint

    @property
    def endpoint(self) -> BlobEndpoint:
        return self._endpoint()

    @classmethod
    def open(cls, home: Path, stack: str) -> LocalWorkspace:
        """The workspace a ``pulumi up`` of ``stack`` created under ``home``."""
        catalog = Catalog(home / "stacks" / stack / "workspace.db")
        if not catalog.exists():
            raise NotFoundError(
                f"stack {stack!r} has no local workspace under {home}: "
                f"run `pulumi up -s {stack}` first"
            )
        with catalog.transaction(write=False) as db:
            row = db.execute("SELECT container FROM workspace").fetchone()
        if row is None:
            raise NotFoundError(f"stack {stack!r}: its workspace catalog holds no workspace")
        return cls(catalog.path, row[0], Azurite(home).endpoint)

    # -- the workspace itself -------------------------------------------------------------

    def create(self, name: str, description: str, tags: Mapping[str, str]) -> WorkspaceInfo:
        """Create the container and the record; an identical existing workspace is kept."""
        with suppress(ResourceExistsError):  # left by a crash after this step: carry on
            self.endpoint.client().create_container(self.container)
        with self.catalog.transaction(write=True) as db:
            row = db.execute("SELECT name, container FROM workspace").fetchone()
            if row is not None and tuple(row) != (name, self.container):
                raise WorkspaceError(
                    f"{self.catalog.path} already holds workspace {row[0]!r} on container "
                    f"{row[1]!r}: destroy that stack first or choose another stack name"
                )
            db.execute(
                "INSERT INTO workspace VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(singleton) DO "
                "UPDATE SET description = excluded.description, tags = excluded.tags",
                (name, self.container, description, json.dumps(dict(tags), sort_keys=True), _now()),
            )
        return self.get()

    def get(self) -> WorkspaceInfo:
        """The record, checking that its datastore container still exists."""
        with self.catalog.transaction(write=False) as db:
            row = db.execute(
                "SELECT name, container, description, tags, created_at FROM workspace"
            ).fetchone()
        if row is None:
            raise NotFoundError(f"workspace catalog {self.catalog.path} holds no workspace")
        if not self.endpoint.client().get_container_client(self.container).exists():
            raise NotFoundError(f"datastore container {self.container!r} no longer exists")
        return WorkspaceInfo(row[0], row[1], row[2], json.loads(row[3]), row[4])

    def update(self, description: str, tags: Mapping[str, str]) -> WorkspaceInfo:
        """Change the mutable metadata in place."""
        with self.catalog.transaction(write=True) as db:
            changed = db.execute(
                "UPDATE workspace SET description = ?, tags = ?",
                (description, json.dumps(dict(tags), sort_keys=True)),
            ).rowcount
        if not changed:
            raise NotFoundError(f"workspace catalog {self.catalog.path} holds no workspace")
        return self.get()

    def delete(self) -> None:
        """Remove the container, then the catalog; safe to repeat after a partial delete."""
        with suppress(ResourceNotFoundError):
            self.endpoint.client().delete_container(self.container)
        self.catalog.remove()

    # -- data versions --------------------------------------------------------------------

    def register_data(
        self,
        name: str,
        *,
        type_: str,
        uri: str,
        manifest: Manifest,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        version: str | None = None,
    ) -> tuple[DataVersion, bool]:
        """Register content as a data version; return it and whether it is new.

        Call only after the content is stored and verified. Without ``version`` the
        content's existing version is returned if there is one (restored if archived),
        else the next integer is taken. An explicit existing version must keep its path.
        """
        tags_json = json.dumps(dict(tags or {}), sort_keys=True)
        with self.catalog.transaction(write=True) as db:
            db.execute("INSERT OR IGNORE INTO data_containers VALUES (?, 1)", (name,))
            if version is None:
                row = db.execute(
                    "SELECT version FROM data_versions WHERE name = ? AND digest = ? "
                    "ORDER BY CAST(version AS INTEGER) DESC LIMIT 1",
                    (name, manifest.digest),
                ).fetchone()
                if row is not None:
                    db.execute(
                        "UPDATE data_versions SET archived = 0, description = ?, tags = ? "
                        "WHERE name = ? AND version = ?",
                        (description, tags_json, name, row[0]),
                    )
                    return self._get_data(db, name, row[0]), False
                (version,) = db.execute(
                    "SELECT next_version FROM data_containers WHERE name = ?", (name,)
                ).fetchone()
                version = str(version)
            existing = db.execute(
                "SELECT uri, digest FROM data_versions WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
            if existing is not None:
                if tuple(existing) != (uri, manifest.digest):
                    raise ImmutableError(
                        f"data {name}:{version}: Asset paths cannot be updated. "
                        "Register the new content as a new version instead."
                    )
                return self._get_data(db, name, version), False
            db.execute(
                f"INSERT INTO data_versions ({_DATA_COLUMNS}, manifest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (name, version, type_, uri, manifest.digest, manifest.files, manifest.bytes,
                 description, tags_json, _now(), manifest.to_json()),
            )  # fmt: skip
            if version.isdigit():
                db.execute(
                    "UPDATE data_containers SET next_version = MAX(next_version, ?) WHERE name = ?",
                    (int(version) + 1, name),
                )
            return self._get_data(db, name, version), True

    @staticmethod
    def _get_data(db: sqlite3.Connection, name: str, version: str) -> DataVersion:
        row = db.execute(
            f"SELECT {_DATA_COLUMNS} FROM data_versions WHERE name = ? AND version = ?",
            (name, version),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"data asset {name}:{version} does not exist in this workspace")
        return _data(row)

    def get_data(self, name: str, version: str | None = None) -> DataVersion:
        """A version, or with ``version=None`` the latest non-archived one."""
        if not self.catalog.exists():
            raise NotFoundError(f"data asset {name} does not exist: the workspace has no catalog")
        with self.catalog.transaction(write=False) as db:
            if version is not None:
                return self._get_data(db, name, version)
            row = db.execute(
                f"SELECT {_DATA_COLUMNS} FROM data_versions WHERE name = ? AND archived = 0 "
                "ORDER BY CAST(version AS INTEGER) DESC, created_at DESC LIMIT 1",
                (name,),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"data asset {name} has no version that is not archived")
        return _data(row)

    def list_data(self, name: str | None = None) -> list[DataVersion]:
        """All versions (archived included), by name then version."""
        if not self.catalog.exists():
            return []
        with self.catalog.transaction(write=False) as db:
            rows = db.execute(
                f"SELECT {_DATA_COLUMNS} FROM data_versions WHERE ? IS NULL OR name = ? "
                "ORDER BY name, CAST(version AS INTEGER)",
                (name, name),
            ).fetchall()
        return [_data(row) for row in rows]

    def data_manifest(self, name: str, version: str) -> Manifest:
        with self.catalog.transaction(write=False) as db:
            row = db.execute(
                "SELECT manifest FROM data_versions WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"data asset {name}:{version} does not exist in this workspace")
        return Manifest.from_json(row[0])

    def update_data(
        self, name: str, version: str, description: str, tags: Mapping[str, str]
    ) -> DataVersion:
        """Change a version's mutable metadata in place."""
        with self.catalog.transaction(write=True) as db:
            db.execute(
                "UPDATE data_versions SET description = ?, tags = ? WHERE name = ? AND version = ?",
                (description, json.dumps(dict(tags), sort_keys=True), name, version),
            )
            return self._get_data(db, name, version)

    def set_data_archived(self, name: str, version: str, archived: bool) -> DataVersion:
        """Archive (hide from ``latest``) or restore a version; content is never deleted."""
        with self.catalog.transaction(write=True) as db:
            db.execute(
                "UPDATE data_versions SET archived = ? WHERE name = ? AND version = ?",
                (int(archived), name, version),
            )
            return self._get_data(db, name, version)

    def stored_content(self) -> dict[str, str]:
        """sha256 → a blob in the datastore holding it, over every registered data version.

        Lets a new version copy unchanged files server-side instead of re-sending them.
        """
        if not self.catalog.exists():
            return {}
        with self.catalog.transaction(write=False) as db:
            rows = db.execute("SELECT name, digest, manifest FROM data_versions").fetchall()
        known: dict[str, str] = {}
        for name, digest, manifest in rows:
            prefix = upload_prefix(digest, name)
            for entry in Manifest.from_json(manifest).entries:
                known.setdefault(entry.sha256, f"{prefix}/{entry.path}")
        return known
