"""Run an ASGI app under uvicorn on a socket we bind, so port 0 can be reported back."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

# Seconds uvicorn lets in-flight requests finish after SIGTERM; stop() waits longer.
GRACEFUL_SHUTDOWN_S = 8


def bind(host: str, port: int) -> socket.socket:
    # proto must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections
    # only then, and without it every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def write_port_file(path: Path, port: int) -> None:
    """Record ``{pid, port}`` atomically; the supervisor reads it to find port-0 servers."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "port": port}, sort_keys=True))
    tmp.replace(path)


def serve(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    port_file: Path | None = None,
    access_log: bool = False,
) -> int:
    """Serve ``app`` until SIGTERM/SIGINT; exit status 0, or 3 if the app failed to start."""
    # httpx logs every forwarded request at INFO: the router's log would grow without end.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sock = bind(host, port)
    bound = int(sock.getsockname()[1])
    print(f"listening on http://{host}:{bound}", flush=True)
    if port_file is not None:
        write_port_file(port_file, bound)
    config = uvicorn.Config(
        app,
        lifespan="on",  # a failing init() must stop the process, not be ignored
        access_log=access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except SystemExit as exit_:  # uvicorn exits with 3 when the lifespan startup fails
        return int(exit_.code or 0)
    return 0 if server.started else 3
