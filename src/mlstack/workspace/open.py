"""Open a workspace from its locator: the one place a backend class is chosen.

Providers, planning and the CLI hold a :class:`~mlstack.config.locator.Locator` (from a
resource's inputs or a stack's config) and get back the
:class:`~mlstack.workspace.protocol.Workspace` protocol. What a locator leaves out is
found here, at run time: the project's machine-local home (``MLSTACK_HOME`` or
``.mlstack/`` of the project at or above the working directory) and the Azure sign-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.content.completion import Known
from mlstack.content.manifest import Manifest
from mlstack.errors import NotFoundError
from mlstack.project import Project
from mlstack.workspace.asset import AssetVersion
from mlstack.workspace.protocol import (
    AssetRegistry,
    EmulatedWorkspace,
    ServiceWorkspace,
    Workspace,
)

__all__ = ["EmptyWorkspace", "open_emulated", "open_local", "open_service", "open_workspace"]


def open_service(locator: AzureLocator) -> ServiceWorkspace:
    """The Azure ML workspace ``locator`` names, signed in as the user; sends no request."""
    from mlstack.workspace.azure import AzureMLWorkspace  # noqa: PLC0415 - slow import
    from mlstack.workspace.credential import default_credential  # noqa: PLC0415

    return AzureMLWorkspace.at(locator, default_credential(locator.describe()))


def open_workspace(
    locator: LocalLocator | AzureLocator,
    project: Project | None = None,
    *,
    home: Path | None = None,
) -> Workspace:
    """The workspace ``locator`` names; building it sends no request.

    A local workspace lives under ``home`` (default: the project's, found from the working
    directory); an empty container in the locator means "as the stack's catalog says".
    """
    if isinstance(locator, AzureLocator):
        return open_service(locator)
    from mlstack.workspace.local import LocalWorkspace  # noqa: PLC0415

    home = home or (project or Project.find()).home
    if locator.container:
        return LocalWorkspace.at(home, locator.stack, locator.container)
    return LocalWorkspace.open(home, locator.stack)


def open_emulated(stack: str, container: str, project: Project | None = None) -> EmulatedWorkspace:
    """The local workspace of ``stack`` as the stack's own workspace resource manages it."""
    from mlstack.workspace.local import LocalWorkspace  # noqa: PLC0415

    return LocalWorkspace.at((project or Project.find()).home, stack, container)


def open_local(project: Project, stack: str) -> EmulatedWorkspace:
    """The local workspace a ``pulumi up`` of ``stack`` created (error if there is none)."""
    from mlstack.workspace.local import LocalWorkspace  # noqa: PLC0415

    return LocalWorkspace.open(project.home, stack)


class _EmptyRegistry:
    """A registry with no versions, read-only."""

    def __init__(self, kind: str, where: str) -> None:
        self.kind = kind
        self._where = where

    def _missing(self, name: str) -> NotFoundError:
        return NotFoundError(f"{self.kind} {name} does not exist: {self._where} does not exist yet")

    def get(self, name: str, version: str | None = None) -> AssetVersion:
        raise self._missing(name)

    def list(self, name: str | None = None) -> list[AssetVersion]:
        return []

    def manifest(self, name: str, version: str) -> Manifest:
        raise self._missing(name)

    def update(
        self, name: str, version: str, description: str, tags: Mapping[str, str], stage: str = ""
    ) -> AssetVersion:
        raise self._missing(name)

    def set_archived(self, name: str, version: str, archived: bool) -> AssetVersion:
        raise self._missing(name)

    def register(self, name: str, **_: Any) -> tuple[AssetVersion, bool]:
        raise self._missing(name)


class EmptyWorkspace:
    """The null workspace a preview plans against before its workspace is created.

    Every asset then reads as new, which is what the first ``pulumi up`` will do.
    """

    def __init__(self, inner: Workspace, where: str) -> None:
        self._inner = inner
        self.data = _EmptyRegistry("data", where)
        self.models = _EmptyRegistry("model", where)
        self.environments = _EmptyRegistry("environment", where)
        self.components = _EmptyRegistry("component", where)

    @property
    def container(self) -> str:
        return self._inner.container

    @property
    def endpoint(self) -> Any:
        return self._inner.endpoint

    @property
    def datastore(self) -> str:
        return self._inner.datastore

    def exists(self) -> bool:
        return False

    def registry(self, kind: str) -> AssetRegistry:
        return {"data": self.data, "model": self.models, "environment": self.environments,
                "component": self.components}[kind]  # fmt: skip

    def stored_content(self, name: str | None = None, kind: str | None = None) -> Known:
        return Known()
