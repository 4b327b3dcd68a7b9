"""LocalWorkspace: the offline emulator of an Azure ML workspace.

A workspace is a SQLite catalog (one per stack) plus its default datastore, a blob
container in Azurite. Asset semantics follow Azure ML: ``(name, version)`` is write-once,
the next version is the container's next integer, identical content is never a new
version, data versions are archived rather than deleted, and illegal changes fail with
the service's own wording (e.g. "Asset paths cannot be updated.").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.completion import Known, read_sealed
from mlstack.content.manifest import Manifest
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.services.azurite import Azurite
from mlstack.workspace.asset import (
    DATASTORE,
    KNOWN_VERSIONS,
    DataVersion,
    WorkspaceInfo,
    upload_prefix,
)
from mlstack.workspace.catalog import Catalog
from mlstack.workspace.registry import Registry

__all__ = ["DATASTORE", "LocalWorkspace", "WorkspaceInfo"]


def catalog_path(home: Path, stack: str) -> Path:
    """Where a stack's workspace catalog lives (see README, "Where state lives")."""
    return home / "stacks" / stack / "workspace.db"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class LocalWorkspace:
    """One stack's workspace: ``catalog`` file and ``container`` on a blob endpoint.

    ``endpoint`` is called only when blob storage is needed, so reading the catalog
    (as a preview does) works while Azurite is stopped.
    """

    def __init__(self, catalog: Path, container: str, endpoint: Callable[[], BlobEndpoint]) -> None:
        self.catalog = Catalog(catalog)
        self.container = container
        self._endpoint = endpoint
        self.data = Registry(self.catalog, "data")
        self.models = Registry(self.catalog, "model")
        self.environments = Registry(self.catalog, "environment")
        self.components = Registry(self.catalog, "component")

    @property
    def endpoint(self) -> BlobEndpoint:
        return self._endpoint()

    @property
    def datastore(self) -> str:
        return DATASTORE

    def exists(self) -> bool:
        return self.catalog.exists()

    def registry(self, kind: str) -> Registry:
        registries = {"data": self.data, "model": self.models,
                      "environment": self.environments, "component": self.components}  # fmt: skip
        if kind not in registries:
            raise WorkspaceError(
                f"unknown asset kind {kind!r}: use data, model, environment or component"
            )
        return registries[kind]

    @classmethod
    def at(cls, home: Path, stack: str, container: str) -> LocalWorkspace:
        """The workspace of ``stack`` under mlstack home ``home``, using Azurite there."""
        return cls(catalog_path(home, stack), container, Azurite(home).endpoint)

    @classmethod
    def open(cls, home: Path, stack: str) -> LocalWorkspace:
        """The workspace a ``pulumi up`` of ``stack`` created under ``home``."""
        catalog = Catalog(catalog_path(home, stack))
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
        with self.catalog.transaction(write=True, create=True) as db:
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

    def record(self) -> WorkspaceInfo:
        """The record from the catalog alone (Azurite may be down)."""
        with self.catalog.transaction(write=False) as db:
            row = db.execute(
                "SELECT name, container, description, tags, created_at FROM workspace"
            ).fetchone()
        if row is None:
            raise NotFoundError(f"workspace catalog {self.catalog.path} holds no workspace")
        return WorkspaceInfo(row[0], row[1], row[2], json.loads(row[3]), row[4])

    def get(self) -> WorkspaceInfo:
        """The record, checking that its datastore container still exists."""
        info = self.record()
        if not self.endpoint.client().get_container_client(self.container).exists():
            raise NotFoundError(f"datastore container {self.container!r} no longer exists")
        return info

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

    # -- assets ---------------------------------------------------------------------------
    # Data, models and environments share one implementation of the version semantics;
    # the data methods below read as the service's data operations do.

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
        """Register stored, verified content as a data version (see Registry.register)."""
        return self.data.register(
            name, type_=type_, uri=uri, digest=manifest.digest, manifest=manifest,
            description=description, tags=tags, version=version,
        )  # fmt: skip

    def get_data(self, name: str, version: str | None = None) -> DataVersion:
        return self.data.get(name, version)

    def list_data(self, name: str | None = None) -> list[DataVersion]:
        return self.data.list(name)

    def data_manifest(self, name: str, version: str) -> Manifest:
        return self.data.manifest(name, version)

    def update_data(
        self, name: str, version: str, description: str, tags: Mapping[str, str]
    ) -> DataVersion:
        return self.data.update(name, version, description, tags)

    def set_data_archived(self, name: str, version: str, archived: bool) -> DataVersion:
        return self.data.set_archived(name, version, archived)

    def stored_content(self, name: str | None = None, kind: str | None = None) -> Known:
        """sha256 → a blob in the datastore holding it, over every registered version
        (of ``name`` only, if given), newest first: a new version copies unchanged files
        server-side instead of re-sending them. The newest versions of each name come with
        the ETags their completion markers recorded, as on Azure."""
        known = Known()
        if not self.catalog.exists():
            return known
        with self.catalog.transaction(write=False) as db:
            rows = db.execute(
                "SELECT kind, name, digest, manifest FROM versions WHERE manifest IS NOT NULL "
                "AND (? IS NULL OR name = ?) AND (? IS NULL OR kind = ?) ORDER BY rowid DESC",
                (name, name, kind, kind),
            ).fetchall()
        newer: dict[tuple[str, str], int] = {}
        for asset_kind, asset, digest, manifest in rows:
            prefix = upload_prefix(digest, asset)
            rank = newer[asset_kind, asset] = newer.get((asset_kind, asset), 0) + 1
            sealed = None
            if rank <= KNOWN_VERSIONS:
                sealed = read_sealed(self.endpoint, self.container, prefix)
            if sealed is not None and sealed.manifest.digest == digest:
                known.add(prefix, sealed.manifest, sealed.etags)
            else:
                known.add(prefix, Manifest.from_json(manifest))
        return known
