"""Detached local processes (Azurite, endpoint servers): start, recognise, collect.

One place for what every supervised service needs: a child in its own session that
outlives the command that started it, recognised by its command line before any signal
is sent (so a recycled pid is never touched), and reaped so it never lingers as a zombie.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path


def spawn(command: Sequence[str], log_file: Path, env: Mapping[str, str]) -> int:
    """Start ``command`` in a new session, stdin from /dev/null, output appended to the log."""
    # posix_spawn, not Popen: the child must outlive this process, and a Popen object
    # would be garbage-collected (with a warning) while its child still runs.
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return os.posix_spawn(
            command[0],
            list(command),
            dict(env),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log, 1),
                (os.POSIX_SPAWN_DUP2, log, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log)


def runs(pid: int, marker: bytes) -> bool:
    """Whether ``pid`` is a live (not zombie) process whose command line holds ``marker``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker in cmdline  # a zombie's cmdline is empty


def exited(pid: int, marker: bytes) -> bool:
    """True once ``pid`` has exited (or is no longer ours); reaps it if it is our child."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: ask the kernel whether it still exists
        return not runs(pid, marker)
    return done == pid or not runs(pid, marker)


def reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie that looks alive."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
