"""Where a process tries to go: name look-ups, connections and programs, seen by audit hooks.

``sys.addaudithook`` sees every ``socket.getaddrinfo`` / ``gethostbyname`` / ``connect`` /
``sendto`` and every ``subprocess.Popen`` of the process, whatever library asks. Tests
wrap a block in :func:`network_log` and assert that every host is a loopback one: the
proof that MLClient, DefaultAzureCredential and mlstack reach only the loopback service
(no DNS query for ``login.microsoftonline.com``, no IMDS probe of ``169.254.169.254``).
Inside the block a look-up or connection to any other host is also refused
(``PermissionError``) before it happens, so a failing test sends nothing either. The hook
cannot be removed; outside a :func:`network_log` block it returns at once.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
            "socket.gethostbyaddr"}  # fmt: skip
_SENDS = {"socket.connect", "socket.sendto"}
_logs: list[NetworkLog] = []
_lock = threading.Lock()
_installed: list[bool] = []  # one True once the hook is in


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class NetworkLog:
    """(event, host) for look-ups and connections; the programs started, by path."""

    events: list[tuple[str, str]] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)

    @property
    def hosts(self) -> set[str]:
        return {host for _, host in self.events}

    def outside_loopback(self) -> list[tuple[str, str]]:
        return [(event, host) for event, host in self.events if not is_loopback(host)]


def _host(event: str, args: tuple[Any, ...]) -> str | None:
    if event in _LOOKUPS:
        target = args[0]
    elif event in _SENDS:
        address = args[1]
        if not isinstance(address, tuple):  # a Unix socket path: not the network
            return None
        target = address[0]
    else:
        return None
    if isinstance(target, bytes):
        target = target.decode(errors="replace")
    return None if target is None else str(target)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _logs:
        return
    if event == "subprocess.Popen":
        with _lock:
            for log in _logs:
                log.programs.append(str(args[0]))
        return
    host = _host(event, args)
    if host is not None:
        with _lock:
            for log in _logs:
                log.events.append((event, host))
        if not is_loopback(host):
            raise PermissionError(f"{event} {host!r} blocked: only loopback inside network_log()")


@contextmanager
def network_log() -> Iterator[NetworkLog]:
    """Record every look-up, connection and program of this process inside the block."""
    log = NetworkLog()
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed.append(True)
        _logs.append(log)
    try:
        yield log
    finally:
        with _lock:
            _logs.remove(log)
