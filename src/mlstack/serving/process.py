"""Start, wait for and stop the serving processes, the way ``services.azurite`` does.

Each server runs detached in its own session (``posix_spawn`` with ``setsid``), so it
outlives the Pulumi provider that started it. Its files sit side by side in one folder:
``<name>.log`` (stdout and stderr), ``<name>.pid`` (written here) and ``<name>.port``
(``{pid, port}``, written by the server once it has bound its socket, which is how a
port-0 server's port is learnt). A pid is signalled only while it is a live process
whose command line shows one of our servers (``services.process``, through psutil), so
a recycled pid is never touched; a server that fails to start is stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from mlstack.errors import ServiceError
from mlstack.services import process as supervisor
from mlstack.services.process import Supervised, exited, runs, spawn, stopped_on_failure

HOST = "127.0.0.1"
MARKER = "mlstack.serving."  # in the cmdline of every server this module starts
POLL_S = 0.05


@dataclass(frozen=True)
class ServerProcess:
    """A started server: its pid, where it listens and where it logs."""

    name: str
    pid: int
    port: int
    log_file: Path
    pid_file: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def start_deployment(
    folder: Path,
    name: str,
    *,
    code: Path,
    scoring_script: str,
    model_dir: Path,
    port: int = 0,
    timeout_s: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start one deployment server and wait until ``init()`` has run (``GET /ready``)."""
    args = [
        "--code", str(code.resolve()), "--scoring-script", scoring_script,
        "--model-dir", str(model_dir.resolve()), "--name", name,
    ]  # fmt: skip
    return start_server(
        "deployment",
        args,
        folder=folder,
        name=name,
        port=port,
        ready_path="/ready",
        timeout_s=timeout_s,
        env=env,
    )


def start_router(
    folder: Path,
    name: str,
    *,
    routes: Path,
    port: int,
    timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start an endpoint router on ``port`` and wait until ``GET /health`` answers."""
    args = ["--routes", str(routes.resolve())]
    return start_server(
        "router",
        args,
        folder=folder,
        name=name,
        port=port,
        ready_path="/health",
        timeout_s=timeout_s,
        env=env,
    )


def start_server(
    kind: str,
    args: Sequence[str],
    *,
    folder: Path,
    name: str,
    port: int,
    ready_path: str,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Spawn ``python -m mlstack.serving.<kind> ARGS`` detached and wait until it is ready."""
    folder.mkdir(parents=True, exist_ok=True)
    log_file, pid_file, port_file = (folder / f"{name}{ext}" for ext in (".log", ".pid", ".port"))
    port_file.unlink(missing_ok=True)  # a stale one would point at the previous process
    module = f"mlstack.serving.{kind}"
    command = [
        sys.executable, "-m", module, *args,
        "--host", HOST, "--port", str(port), "--port-file", str(port_file),
    ]  # fmt: skip
    environ = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    process = spawn(command, log_file, environ, MARKER)
    pid = process.pid
    with stopped_on_failure(process):  # never leave a server running that nobody recorded
        tmp = pid_file.with_name(f".{pid_file.name}.tmp")
        tmp.write_text(f"{pid}\n")
        tmp.replace(pid_file)
        bound = wait_ready(process, port_file, ready_path, log_file, timeout_s)
    return ServerProcess(name=name, pid=pid, port=bound, log_file=log_file, pid_file=pid_file)


def wait_ready(
    process: Supervised, port_file: Path, path: str, log_file: Path, timeout_s: float
) -> int:
    """Poll until the server answers ``GET path`` with 200; return its port.

    Raises ``ServiceError`` with the log's tail if the process exits or the time runs out
    (the caller stops the process then).
    """
    pid = process.pid
    deadline = time.monotonic() + timeout_s
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if exited(process):
                raise ServiceError(
                    f"the server (pid {pid}) exited while starting; the end of {log_file}:\n"
                    + log_tail(log_file)
                )
            port = _recorded_port(port_file, pid)
            if port is not None:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://{HOST}:{port}{path}").status_code == 200:
                        return port
            time.sleep(POLL_S)
    raise ServiceError(
        f"the server (pid {pid}) did not answer GET {path} within {timeout_s:g}s and was "
        f"stopped; the end of {log_file}:\n" + log_tail(log_file)
    )


def _recorded_port(port_file: Path, pid: int) -> int | None:
    try:
        raw = json.loads(port_file.read_text())
    except (OSError, ValueError):
        return None
    return int(raw["port"]) if raw.get("pid") == pid else None


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file``, None if there is no readable one."""
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def is_our_server(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process running one of our servers."""
    return runs(Supervised(pid, MARKER))


def is_alive(pid: int) -> bool:
    """Whether our server ``pid`` still runs (reaped if it is our exited child)."""
    return is_our_server(pid)


def model_dir_of(pid: int) -> Path | None:
    """The ``--model-dir`` a running deployment server was started with; None if ``pid``
    is not one of our deployment servers."""
    found = supervisor.find(Supervised(pid, MARKER))
    try:
        args = [] if found is None else found.cmdline()
    except psutil.Error:  # it ended meanwhile
        return None
    if "--model-dir" not in args[:-1]:
        return None
    return Path(args[args.index("--model-dir") + 1])


def stop(pid: int, timeout_s: float = 15.0) -> bool:
    """SIGTERM (uvicorn finishes in-flight requests), SIGKILL after ``timeout_s``; returns
    once it is gone (reaped if it is our child).

    Returns False, signalling nothing, when ``pid`` is not one of our running servers.
    """
    return supervisor.stop(Supervised(pid, MARKER), timeout_s)


def log_tail(log_file: Path, lines: int = 30) -> str:
    try:
        text = log_file.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
