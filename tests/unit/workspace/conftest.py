"""The ``backend`` fixture of the shared contract suite: a fresh, empty workspace per test.

``local``: a LocalWorkspace (SQLite catalog + a new container in the session's Azurite),
created as a stack's workspace resource creates it. ``azure``: an AzureMLWorkspace talking
to the loopback Azure ML service with the real ``MLClient`` and ``DefaultAzureCredential``.
Both are opened the one way the rest of mlstack opens them: ``open_workspace(locator)``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.project import Project
from mlstack.services.azurite import ServiceState
from mlstack.workspace import open_workspace
from mlstack.workspace.open import open_emulated
from mlstack.workspace.protocol import Workspace
from tests.support.fixtures import SUBSCRIPTION
from tests.unit.workspace.backends import Backend

if TYPE_CHECKING:
    from tests.support.azureml import AzureMLService, WorkspaceRef


def _local(project: Project, home: Path, tmp_path: Path, mp: pytest.MonkeyPatch) -> Backend:
    mp.setenv("MLSTACK_HOME", str(home))  # open_emulated finds the home as a stack does

    def fresh() -> Workspace:
        suffix = uuid.uuid4().hex[:12]
        stack, container = f"contract-{suffix}", f"contract-{suffix}"
        open_emulated(stack, container, project).create(f"ws-{suffix}", "", {})
        return open_workspace(LocalLocator(stack=stack, container=container), home=home)

    def missing() -> Workspace:
        stack = f"never-{uuid.uuid4().hex[:12]}"
        return open_workspace(LocalLocator(stack=stack, container=stack), home=home)

    return Backend("local", fresh(), tmp_path, fresh, missing)


def _azure(request: pytest.FixtureRequest, azurite: ServiceState, tmp_path: Path) -> Backend:
    service: AzureMLService = request.getfixturevalue("azureml_service")
    request.getfixturevalue("azureml_env")  # the real MLClient + credential reach the service
    first: WorkspaceRef = request.getfixturevalue("azureml_workspace")

    def opened(ref: WorkspaceRef, name: str | None = None) -> Workspace:
        locator = AzureLocator(
            subscription_id=ref.subscription_id, resource_group=ref.resource_group,
            workspace=name or ref.name, datastore=ref.datastore, blob_endpoint=ref.blob.url,
        )  # fmt: skip
        return open_workspace(locator)

    def fresh() -> Workspace:
        suffix = uuid.uuid4().hex[:8]
        ref = service.add_workspace(
            SUBSCRIPTION, f"rg-{suffix}", f"ws-{suffix}", blob=azurite.endpoint, datastore="mlstack"
        )
        return opened(ref)

    def puts() -> list[str]:
        return [
            r.path
            for r in service.requests
            if r.method == "PUT" and r.path.lower().startswith(first.id.lower())
            and "/versions/" in r.path
        ]  # fmt: skip

    missing = lambda: opened(first, f"never-{uuid.uuid4().hex[:8]}")  # noqa: E731
    return Backend("azure", opened(first), tmp_path, fresh, missing, puts)


@pytest.fixture(params=["local", "azure"])
def backend(  # noqa: PLR0917 - fixtures arrive as parameters
    request: pytest.FixtureRequest,
    project: Project,
    azurite: ServiceState,
    azurite_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Backend:
    """A fresh, empty workspace on each backend, opened from its locator."""
    if request.param == "local":
        return _local(project, azurite_home, tmp_path, monkeypatch)
    return _azure(request, azurite, tmp_path)


@pytest.fixture
def local_backend(
    project: Project,
    azurite: ServiceState,
    azurite_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Backend:
    """A fresh local workspace alone, for kinds only the local target holds (components)."""
    return _local(project, azurite_home, tmp_path, monkeypatch)
