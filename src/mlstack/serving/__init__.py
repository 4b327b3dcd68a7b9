"""Local online endpoints: one router per endpoint in front of one server per deployment.

    client ──▶ router (keys, traffic split, mirror, pinning)  ──▶ deployment "blue"
                 reloads its routes file on change            ──▶ deployment "green"

``deployment`` serves an Azure ML entry script (``init()``/``run()``); ``router`` is the
only process clients talk to; ``routes`` is the table the router follows and the
provider rewrites; ``keys`` makes and checks endpoint keys; ``process`` starts, waits
for and stops the server processes.
"""

from __future__ import annotations

from mlstack.serving.keys import EndpointKeys, generate_key, key_digest, key_matches
from mlstack.serving.process import (
    ServerProcess,
    is_alive,
    start_deployment,
    start_router,
    stop,
)
from mlstack.serving.routes import Routes

__all__ = [
    "EndpointKeys",
    "Routes",
    "ServerProcess",
    "generate_key",
    "is_alive",
    "key_digest",
    "key_matches",
    "start_deployment",
    "start_router",
    "stop",
]
