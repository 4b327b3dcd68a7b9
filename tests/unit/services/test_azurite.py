"""The Azurite service manager, against real Azurite processes."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from mlstack.errors import ServiceError
from mlstack.project import Project
from mlstack.services.azurite import HOST, Azurite, ServiceState, free_port


def test_session_azurite_answers_blob_requests(azurite: ServiceState) -> None:
    client = azurite.endpoint.client()
    client.create_container("svc-probe")
    assert "svc-probe" in [c.name for c in client.list_containers()]
    client.delete_container("svc-probe")


def test_start_is_idempotent_and_state_is_recorded(
    azurite: ServiceState, azurite_home: Path, project: Project
) -> None:
    service = Azurite(azurite_home, project.tools)
    assert service.start() == azurite
    recorded = json.loads(service.state_file.read_text())
    assert recorded["pid"] == azurite.pid and recorded["port"] == azurite.port


def test_start_on_another_port_while_running_is_refused(
    azurite: ServiceState, azurite_home: Path, project: Project
) -> None:
    with pytest.raises(ServiceError, match=r"already running on port .*mlstack local stop"):
        Azurite(azurite_home, project.tools).start(port=azurite.port + 1)


def test_full_lifecycle_in_its_own_home(tmp_path: Path, project: Project) -> None:
    service = Azurite(tmp_path, project.tools)
    assert service.state() is None
    with pytest.raises(ServiceError, match="mlstack local start"):
        service.endpoint()
    state = service.start(port=free_port())
    assert service.state() == state
    assert (tmp_path / "azurite" / "data").is_dir()
    assert service.stop() == state
    assert service.state() is None
    assert not service.state_file.exists()
    assert service.stop() is None  # stopping twice is harmless


def test_taken_port_is_reported_with_the_fix(tmp_path: Path, project: Project) -> None:
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ServiceError, match=f"port {port} is taken.*--port N"):
            Azurite(tmp_path, project.tools).start(port=port)


def test_missing_node_says_how_to_install_it(
    tmp_path: Path, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no node anywhere
    with pytest.raises(ServiceError, match=r"Node.js is not on PATH.*make setup"):
        Azurite(tmp_path, project.tools).start()


def test_missing_install_says_make_setup(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match=r"not installed .*make setup"):
        Azurite(tmp_path, tmp_path / "no-tools").start()


def test_stale_pid_file_is_ignored_and_never_signalled(tmp_path: Path) -> None:
    """A recorded pid that is not Azurite (here: this test process) is not ours to stop."""
    service = Azurite(tmp_path)
    service.folder.mkdir(parents=True)
    service.state_file.write_text(json.dumps({"pid": os.getpid(), "port": 1, "location": "x"}))
    assert service.state() is None
    assert service.stop() is None  # and we are still alive to assert it
