"""Detached local processes (Azurite, endpoint servers): start, recognise, stop, reap.

One place for what every supervised service needs, on Linux and macOS alike (psutil
reads the process table on both):

- **identity**: a pid alone names no process, since pids are recycled. A supervised
  process is one that runs (a zombie does not), carries its service's marker in its
  command line, and, when its start time was recorded, started at that time. Nothing
  is signalled before it is recognised, and psutil checks the start time again as it
  sends the signal.
- **start**: ``posix_spawn`` returns once the child has left the parent's memory, which
  is before the kernel has laid out the new program's arguments, so for a moment the
  child's command line is empty. Our own child is recognised by ``waitpid`` (its pid
  cannot be reused while it is unreaped), and ``spawn`` returns only once the marker
  shows, so other processes recognise it too.
- **a failed start** stops what it started (``stopped_on_failure``), so a service that
  did not come up is never left running unrecorded.
- **stop** waits until the process is gone and reaps it when it is our child, so it
  never lingers as a zombie.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from mlstack.errors import ServiceError

POLL_S = 0.02
EXEC_TIMEOUT_S = 10.0
KILL_TIMEOUT_S = 5.0
# Start times are computed from the boot time, which a clock adjustment can shift a
# little between two readings; a recycled pid that also carries the marker and started
# within this window of the recorded one is not a risk worth another rule.
CREATED_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Supervised:
    """Who a supervised process is: its pid, its marker, and (when known) its start time."""

    pid: int
    marker: str
    """Text in the command line of every process of this kind (e.g. ``azurite``)."""
    created: float | None = None
    """psutil's ``create_time`` (seconds since the epoch); None in records that lack it."""


def spawn(
    command: Sequence[str], log_file: Path, env: Mapping[str, str], marker: str
) -> Supervised:
    """Start ``command`` in a new session (stdin /dev/null, output appended to the log).

    Returns once the child has exec'd (its command line shows ``marker``) or has already
    exited, which the caller's readiness wait then reports with the log.
    """
    if not any(marker in part for part in command):
        raise ValueError(f"the marker {marker!r} must appear in the command line it identifies")
    # posix_spawn, not Popen: the child must outlive this process, and a Popen object
    # would be garbage-collected (with a warning) while its child still runs.
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        pid = os.posix_spawn(
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
    try:  # our unreaped child cannot vanish, so its start time is there to read
        created: float | None = psutil.Process(pid).create_time()
    except psutil.Error:  # it exited already, and macOS hides a zombie's start time
        created = None
    started = Supervised(pid, marker, created)
    try:
        _wait_exec(started)
    except BaseException:  # its command line may not show the marker: end it by pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # our unreaped child: the pid is still its own
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        raise
    return started


def _wait_exec(process: Supervised) -> None:
    deadline = time.monotonic() + EXEC_TIMEOUT_S
    while not _shows_marker(process) and not exited(process):
        if time.monotonic() > deadline:
            raise ServiceError(
                f"process {process.pid} did not start its program within {EXEC_TIMEOUT_S:g}s"
            )
        time.sleep(POLL_S)


def _shows_marker(process: Supervised) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(process.marker in part for part in psutil.Process(process.pid).cmdline())
    return False


def find(process: Supervised) -> psutil.Process | None:
    """The live process ``process`` names, or None if it is gone, a zombie, or another one.

    Our own child is reaped here once it has exited, so asking is enough to never
    leave a zombie behind.
    """
    if process.pid <= 0:  # 0 and negatives name process groups, not a process
        return None
    ours = _our_child_runs(process.pid)
    if ours is False:
        return None
    try:
        found = psutil.Process(process.pid)
        if process.created is not None and (
            abs(found.create_time() - process.created) > CREATED_TOLERANCE_S
        ):
            return None  # the pid was recycled
        if found.status() != psutil.STATUS_ZOMBIE and any(
            process.marker in part for part in found.cmdline()
        ):
            return found
    except psutil.Error:  # gone, a zombie (macOS raises), or not ours to read
        pass
    if ours:  # it exited after waitpid looked: collect it now
        _our_child_runs(process.pid)
    return None


def _our_child_runs(pid: int) -> bool | None:
    """True: our child, running; False: our child, exited (now reaped); None: not our child."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return done != pid


def runs(process: Supervised) -> bool:
    """Whether ``process`` is live and is who it says (see ``find``)."""
    return find(process) is not None


def exited(process: Supervised) -> bool:
    """True once ``process`` has exited (or is no longer ours); reaps it if it is our child.

    Our own child is asked of ``waitpid`` alone: until reaped its pid cannot be reused,
    and it is alive even in the moment before exec, when its command line is empty.
    """
    ours = _our_child_runs(process.pid) if process.pid > 0 else None
    return not runs(process) if ours is None else not ours


def stop(process: Supervised, timeout_s: float = 10.0) -> bool:
    """SIGTERM, SIGKILL after ``timeout_s``; return once it is gone (and reaped if our child).

    Returns False, signalling nothing, when ``process`` is not running as itself (gone,
    a zombie, or a recycled pid now held by something else).
    """
    found = find(process)
    if found is None:
        return False
    with contextlib.suppress(psutil.NoSuchProcess):
        found.terminate()  # psutil checks the start time again before signalling
    if not _wait_gone(process, timeout_s):
        with contextlib.suppress(psutil.NoSuchProcess):
            found.kill()
        _wait_gone(process, KILL_TIMEOUT_S)
    return True


def _wait_gone(process: Supervised, timeout_s: float) -> bool:
    """Poll until ``process`` has ended (and, if our child, been reaped); False on timeout.

    Our child is waited for with ``waitpid`` alone: while it exits, its command line is
    already empty but it is not yet a zombie that could be collected.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        ours = _our_child_runs(process.pid)
        if ours is False or (ours is None and not runs(process)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


@contextlib.contextmanager
def stopped_on_failure(process: Supervised) -> Iterator[None]:
    """Stop ``process`` if the block raises (anything, Ctrl-C included), then re-raise."""
    try:
        yield
    except BaseException:
        stop(process, timeout_s=KILL_TIMEOUT_S)
        raise
