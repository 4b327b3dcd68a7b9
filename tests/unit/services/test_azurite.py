"""The Azurite service manager, against real Azurite processes."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psutil
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


def _mentioning(folder: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions ``folder`` (a test's own Azurite home)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if str(folder) in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


@pytest.fixture
def own_home(tmp_path: Path) -> Iterator[Path]:
    """A home whose Azurites are all ended after the test, whatever it asserted."""
    yield tmp_path
    strays = _mentioning(tmp_path)
    for process in strays:
        process.kill()
    psutil.wait_procs(strays, timeout=10)


def test_start_and_stop_many_times_in_one_process_leaves_nothing_behind(
    own_home: Path, project: Project
) -> None:
    service = Azurite(own_home, project.tools)
    started: list[tuple[int, float]] = []
    for _ in range(10):
        state = service.start(port=free_port())
        started.append((state.pid, psutil.Process(state.pid).create_time()))
        assert service.state() == state
        assert service.stop() == state
        assert service.state() is None
    assert _mentioning(own_home) == []  # no stray Azurite
    for pid, created in started:  # each reaped: no zombie under this pid
        with contextlib.suppress(psutil.NoSuchProcess):
            assert psutil.Process(pid).create_time() != created, f"pid {pid} was not reaped"


def test_a_failed_start_stops_the_azurite_it_started(
    own_home: Path, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never_ready(self: Azurite, state: ServiceState) -> None:
        assert _mentioning(own_home), "Azurite should be running while it is awaited"
        raise ServiceError("not ready (on purpose)")

    monkeypatch.setattr(Azurite, "_wait_ready", never_ready)
    service = Azurite(own_home, project.tools)
    with pytest.raises(ServiceError, match="on purpose"):
        service.start(port=free_port())
    assert _mentioning(own_home) == []
    assert service.state() is None and not service.state_file.exists()


def test_a_recorded_pid_reused_by_another_azurite_is_not_ours(
    own_home: Path, project: Project
) -> None:
    """The pid and marker match, the start time does not: someone else's process now."""
    service = Azurite(own_home, project.tools)
    state = service.start(port=free_port())
    try:
        assert state.created is not None
        recorded = json.loads(service.state_file.read_text())
        service.state_file.write_text(json.dumps({**recorded, "created": state.created - 60}))
        assert service.state() is None
        assert service.stop() is None
        assert psutil.Process(state.pid).is_running()  # not signalled
    finally:
        service.state_file.write_text(json.dumps(recorded))
        assert service.stop() == state
