"""The Azurite blob emulator as a supervised local service.

State lives in one folder (``<home>/azurite``): blob data, a log and ``service.json``
(pid, its start time, port). Start is idempotent and waits until the service answers a
real blob request, and a start that fails stops what it started; stop signals the
recorded process only, after checking it is still our Azurite (``services.process``),
so a recycled pid or another user's emulator is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mlstack.content.blobstore import BlobEndpoint
from mlstack.errors import ServiceError
from mlstack.services.process import Supervised, exited, runs, spawn, stop, stopped_on_failure

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key: public, documented, and accepted by nothing else.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEFAULT_PORT = 10000
HOST = "127.0.0.1"
MARKER = "azurite"  # in the command line of every Azurite process
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ServiceState:
    """What ``service.json`` records about a started Azurite."""

    pid: int
    port: int
    location: str
    created: float | None = None
    """The process's start time (psutil), so a recycled pid is not taken for it; None in
    a ``service.json`` written before it was recorded."""

    @property
    def process(self) -> Supervised:
        return Supervised(self.pid, MARKER, self.created)

    @property
    def endpoint(self) -> BlobEndpoint:
        url = f"http://{HOST}:{self.port}/{ACCOUNT}"
        return BlobEndpoint(url=url, account=ACCOUNT, key=ACCOUNT_KEY)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the OS says is free now (it may be taken again before use; start checks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Azurite:
    """Start, stop and locate the Azurite of one mlstack home."""

    def __init__(self, home: Path, tools: Path | None = None) -> None:
        """``tools`` (the ``.tools`` folder) is needed only to start; finding one is by ``home``."""
        self.folder = home / "azurite"
        self.tools = tools
        self.state_file = self.folder / "service.json"
        self.log_file = self.folder / "azurite.log"

    def state(self) -> ServiceState | None:
        """The recorded service if its process is still alive, else None."""
        try:
            raw = json.loads(self.state_file.read_text())
            created = None if raw.get("created") is None else float(raw["created"])
            state = ServiceState(int(raw["pid"]), int(raw["port"]), str(raw["location"]), created)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return state if runs(state.process) else None

    def endpoint(self) -> BlobEndpoint:
        """The running service's endpoint, or an error that says how to start it."""
        state = self.state()
        if state is None:
            raise ServiceError("Azurite is not running: start it with `mlstack local start`")
        return state.endpoint

    def start(self, port: int | None = None) -> ServiceState:
        """Start Azurite (or return the one already running) and wait until it answers."""
        running = self.state()
        if running is not None:
            if port is not None and port != running.port:
                raise ServiceError(
                    f"Azurite is already running on port {running.port}: "
                    f"stop it with `mlstack local stop` before starting it on port {port}"
                )
            return running
        node = shutil.which("node")
        if node is None:
            raise ServiceError(
                "Node.js is not on PATH: install Node.js 20 or newer "
                "(e.g. `apt-get install nodejs`), then run `make setup`"
            )
        script = (self.tools or Path(".tools")) / "azurite/node_modules/.bin/azurite-blob"
        if not script.exists():
            raise ServiceError(f"Azurite is not installed at {script.parent}: run `make setup`")
        if port is None:
            port = DEFAULT_PORT if port_is_free(DEFAULT_PORT) else free_port()
        elif not port_is_free(port):
            raise ServiceError(
                f"port {port} is taken by another process: choose another with "
                "`mlstack local start --port N`, or stop what listens there"
            )
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        command = [
            node, str(script.resolve()),
            "--blobHost", HOST, "--blobPort", str(port), "--location", str(data),
            "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry",
        ]  # fmt: skip
        process = spawn(command, self.log_file, os.environ, MARKER)
        state = ServiceState(process.pid, port, str(data), process.created)
        with stopped_on_failure(process):  # never leave an unrecorded Azurite running
            self._wait_ready(state)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(state), indent=2, sort_keys=True))
            tmp.replace(self.state_file)
        return state

    def _wait_ready(self, state: ServiceState) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        client = state.endpoint.client(retries=0)
        while time.monotonic() < deadline:
            if exited(state.process):
                raise ServiceError(f"Azurite exited at start; see {self.log_file}")
            try:
                next(iter(client.list_containers(results_per_page=1)), None)
                return
            except Exception:  # not listening yet: any failure means "wait"
                time.sleep(0.1)
        raise ServiceError(
            f"Azurite did not answer on port {state.port} within {READY_TIMEOUT_S:.0f}s "
            f"and was stopped; see {self.log_file}"
        )

    def stop(self, timeout_s: float = 10.0) -> ServiceState | None:
        """Stop the recorded Azurite by its pid; return what was stopped, None if nothing ran."""
        state = self.state()
        if state is None:
            self.state_file.unlink(missing_ok=True)
            return None
        stop(state.process, timeout_s)
        self.state_file.unlink(missing_ok=True)
        return state
