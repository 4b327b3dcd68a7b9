"""The one workspace protocol: what providers, planning and the CLI rely on, on any target.

:class:`AssetRegistry` is the version store of one asset kind (read side and
registration of stored content) and :class:`Workspace` the three stores plus the blob
datastore their content lives in. Storing a folder or another workspace's version and
registering it is built on these members once, in :mod:`mlstack.workspace.register`.

The local emulator (:class:`~mlstack.workspace.local.LocalWorkspace`) and Azure ML
(:class:`~mlstack.workspace.azure.AzureMLWorkspace`) satisfy both structurally, and one
contract suite (``tests/unit/workspace/test_contract.py``) runs against both. Members are
read-only properties so that a plain attribute and a lazily resolved property (Azure's
datastore) both qualify. Nothing outside ``workspace/`` names a backend class: a
workspace is opened from its locator with :func:`mlstack.workspace.open_workspace`.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Protocol

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.completion import Known
from mlstack.content.manifest import Manifest
from mlstack.workspace.asset import AssetVersion, WorkspaceInfo

__all__ = ["AssetRegistry", "EmulatedWorkspace", "ServiceWorkspace", "Workspace", "WorkspaceInfo"]

Versions = builtins.list[AssetVersion]  # `list` is a member name below


class AssetRegistry(Protocol):
    """The versions of one asset kind, with the service's semantics and errors."""

    @property
    def kind(self) -> str:
        """``data``, ``model`` or ``environment``."""
        ...

    def get(self, name: str, version: str | None = None) -> AssetVersion:
        """A version; ``None`` is the latest one that is not archived."""
        ...

    def list(self, name: str | None = None) -> Versions:
        """All versions, archived included, by name then version."""
        ...

    def manifest(self, name: str, version: str) -> Manifest:
        """The files of a stored version."""
        ...

    def update(
        self, name: str, version: str, description: str, tags: Mapping[str, str], stage: str = ""
    ) -> AssetVersion:
        """Change a version's mutable metadata in place."""
        ...

    def set_archived(self, name: str, version: str, archived: bool) -> AssetVersion:
        """Archive or restore a version; content is never deleted."""
        ...

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
        """Register content that is already stored and verified; return it and whether
        it is a new version. Identical content gets its existing version back (restored,
        metadata renewed); an explicit existing version must keep its content."""
        ...


class Workspace(Protocol):
    """A workspace's asset stores and the datastore container that holds their content."""

    @property
    def data(self) -> AssetRegistry: ...

    @property
    def models(self) -> AssetRegistry: ...

    @property
    def environments(self) -> AssetRegistry: ...

    @property
    def container(self) -> str:
        """The blob container of the datastore content is stored in."""
        ...

    @property
    def endpoint(self) -> BlobEndpoint:
        """The blob service holding ``container``, able to read and write it."""
        ...

    @property
    def datastore(self) -> str:
        """The datastore's name, as ``azureml://datastores/<name>/paths/...`` URIs spell it."""
        ...

    def exists(self) -> bool:
        """Whether the workspace exists yet (a first preview plans against an empty one)."""
        ...

    def registry(self, kind: str) -> AssetRegistry:
        """The registry of ``kind``: ``data``, ``model`` or ``environment`` (and
        ``component`` on the local emulator only, so far)."""
        ...

    def stored_content(self, name: str | None = None, kind: str | None = None) -> Known:
        """sha256 → a blob of ``container`` holding it (and its recorded ETag), from
        registered versions (of ``name`` and ``kind`` only, if given), so a new version
        copies instead of re-sending."""
        ...


class EmulatedWorkspace(Workspace, Protocol):
    """The ``local`` target's workspace itself, whose record and container a stack owns
    (on Azure the workspace is an azure-native resource instead)."""

    def create(self, name: str, description: str, tags: Mapping[str, str]) -> WorkspaceInfo:
        """Create the container and the record; an identical existing workspace is kept."""
        ...

    def get(self) -> WorkspaceInfo:
        """The record, checking that its datastore container still exists."""
        ...

    def record(self) -> WorkspaceInfo:
        """The record alone, without asking the datastore (which may be down)."""
        ...

    def update(self, description: str, tags: Mapping[str, str]) -> WorkspaceInfo: ...

    def delete(self) -> None:
        """Remove the container, then the record; safe to repeat after a partial delete."""
        ...


class ServiceWorkspace(Workspace, Protocol):
    """A workspace of the Azure ML service, whose ``MLClient`` jobs are submitted with."""

    @property
    def client(self) -> Any:
        """azure-ai-ml's ``MLClient`` for the workspace (untyped: the SDK ships no types)."""
        ...
