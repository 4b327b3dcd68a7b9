"""What a reader of a workspace relies on, whichever target holds it.

:class:`AssetRegistry` is the version store of one asset kind and :class:`Workspace` the
three stores plus the blob container their content lives in. The local emulator
(:class:`~mlstack.workspace.local.LocalWorkspace` and its
:class:`~mlstack.workspace.registry.Registry`) satisfies both structurally; so does the
Azure backend, seen through :mod:`mlstack.cli.inspect.azure` (its registries read
manifests through their workspace). Members are read-only properties so that a plain
attribute and a lazily resolved property (Azure's datastore) both qualify.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Protocol

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import Manifest
from mlstack.workspace.asset import AssetVersion

__all__ = ["AssetRegistry", "Workspace"]

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
        """The blob service holding ``container``, able to read it."""
        ...
