"""The process supervisor: identity, start, stop and reaping, with real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mlstack.services.process import Supervised, exited, find, runs, spawn, stop

SH = shutil.which("sh") or "/bin/sh"
IGNORE_TERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture
def marker() -> Iterator[str]:
    """A marker of this test's own; whatever still carries it afterwards is killed."""
    mark = f"mlstack-test-{uuid.uuid4().hex[:12]}"
    yield mark
    left = [
        p for p in psutil.process_iter(["cmdline"]) if mark in " ".join(p.info["cmdline"] or [])
    ]
    for process in left:
        process.kill()
    psutil.wait_procs(left, timeout=10)


def gone(process: Supervised) -> bool:
    """Not in the process table under its pid and start time: exited and reaped."""
    try:
        return psutil.Process(process.pid).create_time() != process.created
    except psutil.NoSuchProcess:
        return True


def sleeper(marker: str, log: Path) -> Supervised:
    """One process (no child of its own to outlive it) with the marker in its arguments."""
    return spawn(
        [sys.executable, "-c", "import time; time.sleep(60)", marker], log, os.environ, marker
    )


def test_a_spawned_process_is_recognised_at_once(marker: str, tmp_path: Path) -> None:
    for _ in range(20):  # the pre-exec window, when the command line is empty, is short
        process = sleeper(marker, tmp_path / "log")
        assert runs(process) and not exited(process)
        assert process.created == psutil.Process(process.pid).create_time()
        assert stop(process)
        assert gone(process)


def test_stop_reaps_our_child_so_no_zombie_is_left(marker: str, tmp_path: Path) -> None:
    process = sleeper(marker, tmp_path / "log")
    assert stop(process)
    assert gone(process)
    assert not stop(process)  # stopping twice is harmless


def test_stop_kills_what_ignores_sigterm(marker: str, tmp_path: Path) -> None:
    log = tmp_path / "log"
    process = spawn([sys.executable, "-c", IGNORE_TERM, marker], log, os.environ, marker)
    deadline = time.monotonic() + 30
    while "ready" not in log.read_text():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.02)
    started = time.monotonic()
    assert stop(process, timeout_s=0.5)
    assert gone(process)
    assert time.monotonic() - started < 5


def test_an_exited_child_is_no_longer_running_and_is_reaped(marker: str, tmp_path: Path) -> None:
    process = spawn([SH, "-c", "exit 3", marker], tmp_path / "log", os.environ, marker)
    deadline = time.monotonic() + 10
    while not exited(process):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not runs(process)
    assert gone(process)


def test_a_foreign_pid_is_never_signalled(marker: str) -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    other = subprocess.Popen([sleep, "30"])  # our child, but not carrying the marker
    try:
        foreign = Supervised(other.pid, marker)
        assert find(foreign) is None and not runs(foreign)
        assert not stop(foreign)
        assert other.poll() is None  # still running
    finally:
        other.kill()
        other.wait()


def test_a_reused_pid_is_never_signalled(marker: str, tmp_path: Path) -> None:
    """A record whose pid now belongs to another process that happens to match the marker."""
    process = sleeper(marker, tmp_path / "log")
    assert process.created is not None
    recorded = Supervised(process.pid, marker, process.created - 60)  # started a minute apart
    assert not runs(recorded)
    assert not stop(recorded)
    assert runs(process)  # untouched
    assert stop(process)


def test_a_zombie_that_is_not_our_child_is_not_running(marker: str, tmp_path: Path) -> None:
    """A process that exited but whose parent has not collected it is not running, and is
    never signalled (only its parent can reap it)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", (
            "import subprocess, sys, time\n"
            f"child = subprocess.Popen([{SH!r}, '-c', 'exit 0', {marker!r}])\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(60)\n"  # never waits: the child stays a zombie
        )],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        zombie = Supervised(int(parent.stdout.readline()), marker)
        deadline = time.monotonic() + 10
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert not runs(zombie) and exited(zombie)
        assert not stop(zombie)
    finally:
        parent.kill()
        parent.communicate()  # waits, and closes the pipe


def test_the_marker_must_be_in_the_command_it_identifies(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="marker"):
        spawn([SH, "-c", "exit 0"], tmp_path / "log", os.environ, "not-there")
