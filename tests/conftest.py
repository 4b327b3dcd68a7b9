"""Shared fixtures: the project, and one real Azurite for the whole test session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlstack.content.blobstore import BlobEndpoint
from mlstack.project import Project
from mlstack.services.azurite import Azurite, ServiceState, free_port
from tests.support.accounts import azurite_accounts

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.support.fixtures", "tests.support.stacks"]


@pytest.fixture(scope="session")
def project() -> Project:
    return Project(ROOT)


@pytest.fixture(scope="session")
def azurite_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An mlstack home of the tests' own, so no test touches the developer's .mlstack."""
    return tmp_path_factory.mktemp("mlstack-home")


@pytest.fixture(scope="session")
def azurite(azurite_home: Path, project: Project) -> Iterator[ServiceState]:
    """A real Azurite on a free loopback port, started once and stopped at the end."""
    service = Azurite(azurite_home, project.tools)
    with pytest.MonkeyPatch.context() as env:  # a second account, for copies across accounts
        env.setenv("AZURITE_ACCOUNTS", azurite_accounts())
        state = service.start(port=free_port())
    yield state
    service.stop()


@pytest.fixture
def endpoint(azurite: ServiceState) -> BlobEndpoint:
    return azurite.endpoint


@pytest.fixture(scope="module")
def event_loop_for_pulumi() -> None:
    """A current event loop for ``pulumi.runtime.test``, as Pulumi itself would make one:
    a test that used ``asyncio.run`` earlier in the session leaves the main thread with
    none. The loop stays set (like asyncio's implicit one), so nothing is left unclosed."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
