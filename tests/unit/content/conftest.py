"""The content tests' datastore: a fresh container of the session's Azurite per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import ContainerClient

from mlstack.content import calibration
from mlstack.content.blobstore import BlobEndpoint
from mlstack.project import Project
from mlstack.services import azurite as azurite_module
from mlstack.services.azurite import Azurite, ServiceState, free_port


def _exited(pid: int, marker: bytes) -> bool:
    """``services.process.exited`` without its start-up race (reported to its owner):
    right after ``posix_spawn`` the child may still be in ``execve`` with an empty
    ``/proc/<pid>/cmdline``, so a starting Azurite is taken for a dead one and leaked.
    Here only a reaped, vanished or zombie process has exited."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = 0
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return done == pid or state == "Z"


@pytest.fixture(scope="session")
def azurite(azurite_home: Path, project: Project) -> Iterator[ServiceState]:
    """The session Azurite of ``tests/conftest.py``, started without that race."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(azurite_module, "exited", _exited)
        service = Azurite(azurite_home / "content", project.tools)
        state = service.start(port=free_port())
    yield state
    service.stop()


@pytest.fixture
def container(endpoint: BlobEndpoint) -> Iterator[ContainerClient]:
    """A fresh container per test, so tests never see each other's blobs."""
    with endpoint.client() as service:
        client = service.create_container(f"t-{uuid.uuid4().hex[:16]}")
        yield client
        client.delete_container()


@pytest.fixture(autouse=True)
def no_remembered_costs() -> Iterator[None]:
    """Copy-or-send costs are remembered per endpoint and process: not across tests."""
    calibration.forget()
    yield
    calibration.forget()
