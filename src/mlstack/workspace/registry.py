"""Versioned assets of one kind (data, model, environment) in the local catalog.

One implementation of Azure ML's version semantics serves every kind: ``(name, version)``
is write-once, the next version is the name's next integer, identical content (same
digest) is never a new version, description/tags (and a model's stage) change in place,
and versions are archived, never deleted. Only the wording of the "immutable" error differs
per kind, as it does in the service.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mlstack.content.manifest import Manifest
from mlstack.errors import ImmutableError, NotFoundError
from mlstack.workspace.asset import AssetVersion
from mlstack.workspace.catalog import Catalog

_COLUMNS = (
    "kind, name, version, type, uri, digest, files, bytes, description, tags, "
    "properties, stage, archived, created_at"
)
# What the service says when an existing version's content is changed.
IMMUTABLE = {
    "data": "Asset paths cannot be updated.",
    "model": "Model version content is immutable; only description, tags and stage change.",
    "environment": "Conflict (409): an environment version's image and conda file are immutable.",
    "component": "Conflict (409): a component version's spec and code are immutable.",
}


def _version(row: tuple[Any, ...]) -> AssetVersion:
    kind, name, version, type_, uri, digest, files, size, desc, tags, props, stage, arch, at = row
    return AssetVersion(
        name=name, version=version, type=type_, uri=uri, digest=digest, files=files, bytes=size,
        description=desc, tags=json.loads(tags), archived=bool(arch), created_at=at,
        kind=kind, properties=json.loads(props), stage=stage,
    )  # fmt: skip


class Registry:
    """The versions of one asset ``kind`` in ``catalog``."""

    def __init__(self, catalog: Catalog, kind: str) -> None:
        self.catalog = catalog
        self.kind = kind

    def register(
        self,
        name: str,
        *,
        type_: str,
        uri: str,
        digest: str,
        manifest: Manifest | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        stage: str = "",
        version: str | None = None,
    ) -> tuple[AssetVersion, bool]:
        """Register content; return the version and whether it is new.

        Call only after the content is stored and verified. Without ``version``, content
        that already has a version gets it back (restored if archived, metadata updated);
        otherwise the next integer is taken. An explicit existing version must keep its
        content, else the service's "immutable" error is raised; with the same content it
        is restored and takes the new metadata too.
        """
        meta = (description, json.dumps(dict(tags or {}), sort_keys=True), self._stage(stage))
        with self.catalog.transaction(write=True, create=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO containers (kind, name, next_version) VALUES (?, ?, 1)",
                (self.kind, name),
            )
            if version is None:
                row = db.execute(
                    "SELECT version FROM versions WHERE kind = ? AND name = ? AND digest = ? "
                    "ORDER BY CAST(version AS INTEGER) DESC LIMIT 1",
                    (self.kind, name, digest),
                ).fetchone()
                if row is not None:
                    return self._renew(db, name, row[0], meta), False
                (next_version,) = db.execute(
                    "SELECT next_version FROM containers WHERE kind = ? AND name = ?",
                    (self.kind, name),
                ).fetchone()
                version = str(next_version)
            existing = db.execute(
                "SELECT uri, digest FROM versions WHERE kind = ? AND name = ? AND version = ?",
                (self.kind, name, version),
            ).fetchone()
            if existing is not None:
                if tuple(existing) != (uri, digest):
                    raise ImmutableError(
                        f"{self.kind} {name}:{version}: {IMMUTABLE[self.kind]} "
                        "Register the new content as a new version instead."
                    )
                return self._renew(db, name, version, meta), False
            db.execute(
                f"INSERT INTO versions ({_COLUMNS}, manifest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (self.kind, name, version, type_, uri, digest,
                 manifest.files if manifest else 0, manifest.bytes if manifest else 0,
                 meta[0], meta[1], json.dumps(dict(properties or {}), sort_keys=True), meta[2],
                 datetime.now(UTC).isoformat(timespec="seconds"),
                 manifest.to_json() if manifest else None),
            )  # fmt: skip
            if version.isdigit():
                db.execute(
                    "UPDATE containers SET next_version = MAX(next_version, ?) "
                    "WHERE kind = ? AND name = ?",
                    (int(version) + 1, self.kind, name),
                )
            self._label_latest(db, name, version)
            return self._get(db, name, version), True

    def _stage(self, stage: str) -> str:
        """Only model versions have a stage in Azure ML; data and environments drop it."""
        return stage if self.kind == "model" else ""

    def _renew(
        self, db: sqlite3.Connection, name: str, version: str, meta: tuple[str, str, str]
    ) -> AssetVersion:
        """Identical content registered again: restore the version, take the new metadata."""
        db.execute(
            "UPDATE versions SET archived = 0, description = ?, tags = ?, stage = ? "
            "WHERE kind = ? AND name = ? AND version = ?",
            (*meta, self.kind, name, version),
        )
        return self._get(db, name, version)

    def _label_latest(self, db: sqlite3.Connection, name: str, version: str) -> None:
        """``latest`` is the version created last, as Azure ML's (azure-ai-ml: "the most
        recently created, not the most recently updated"): registering old content again
        is a no-op and leaves it where it is."""
        db.execute(
            "UPDATE containers SET latest = ? WHERE kind = ? AND name = ?",
            (version, self.kind, name),
        )

    def _get(self, db: sqlite3.Connection, name: str, version: str) -> AssetVersion:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM versions WHERE kind = ? AND name = ? AND version = ?",
            (self.kind, name, version),
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"{self.kind} asset {name}:{version} does not exist in this workspace"
            )
        return _version(row)

    def get(self, name: str, version: str | None = None) -> AssetVersion:
        """A version, or with ``version=None`` the latest one that is not archived."""
        if not self.catalog.exists():
            raise NotFoundError(
                f"{self.kind} asset {name} does not exist: the workspace has no catalog"
            )
        with self.catalog.transaction(write=False) as db:
            if version is not None:
                return self._get(db, name, version)
            # The labelled latest if it is not archived, else the newest that is not.
            row = db.execute(
                f"SELECT {_COLUMNS} FROM versions v WHERE kind = ? AND name = ? AND archived = 0 "
                "ORDER BY version = (SELECT latest FROM containers c "
                "WHERE c.kind = v.kind AND c.name = v.name) DESC, "
                "CAST(version AS INTEGER) DESC LIMIT 1",
                (self.kind, name),
            ).fetchone()
        if row is None:
            versions = [v.version for v in self.list(name)]
            if not versions:
                raise NotFoundError(f"{self.kind} {name} does not exist in this workspace")
            raise NotFoundError(
                f"every version of {self.kind} {name} is archived ({', '.join(versions)}): "
                "name one explicitly, or restore one"
            )
        return _version(row)

    def list(self, name: str | None = None) -> list[AssetVersion]:
        """All versions, archived included, by name then version."""
        if not self.catalog.exists():
            return []
        with self.catalog.transaction(write=False) as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM versions WHERE kind = ? AND (? IS NULL OR name = ?) "
                "ORDER BY name, CAST(version AS INTEGER)",
                (self.kind, name, name),
            ).fetchall()
        return [_version(row) for row in rows]

    def manifest(self, name: str, version: str) -> Manifest:
        with self.catalog.transaction(write=False) as db:
            row = db.execute(
                "SELECT manifest FROM versions WHERE kind = ? AND name = ? AND version = ?",
                (self.kind, name, version),
            ).fetchone()
        if row is None or row[0] is None:
            raise NotFoundError(
                f"{self.kind} asset {name}:{version} has no files in this workspace"
            )
        return Manifest.from_json(row[0])

    def update(
        self, name: str, version: str, description: str, tags: Mapping[str, str], stage: str = ""
    ) -> AssetVersion:
        """Change a version's mutable metadata in place."""
        with self.catalog.transaction(write=True) as db:
            db.execute(
                "UPDATE versions SET description = ?, tags = ?, stage = ? "
                "WHERE kind = ? AND name = ? AND version = ?",
                (
                    description,
                    json.dumps(dict(tags), sort_keys=True),
                    self._stage(stage),
                    self.kind,
                    name,
                    version,
                ),
            )
            return self._get(db, name, version)

    def set_archived(self, name: str, version: str, archived: bool) -> AssetVersion:
        """Archive (hide from ``latest``) or restore a version; content is never deleted."""
        with self.catalog.transaction(write=True) as db:
            db.execute(
                "UPDATE versions SET archived = ? WHERE kind = ? AND name = ? AND version = ?",
                (int(archived), self.kind, name, version),
            )
            return self._get(db, name, version)
