"""The supervisor helpers: pid files, liveness, and stopping only our own servers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable

import httpx

from mlstack.serving import is_alive, stop
from mlstack.serving.process import model_dir_of, read_pid

from .conftest import Deployment


def test_stop_ends_a_server_and_is_idempotent(start_stub: Callable[[str], Deployment]) -> None:
    deployment = start_stub("short-lived")
    pid = deployment.process.pid
    assert read_pid(deployment.process.pid_file) == pid
    assert is_alive(pid)
    assert stop(pid)
    assert not is_alive(pid)
    assert not stop(pid)
    try:
        httpx.get(deployment.url + "/health", trust_env=False, timeout=1)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the stopped server still answers")


def test_a_pid_that_is_not_our_server_is_never_signalled() -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    other = subprocess.Popen([sleep, "30"])
    try:
        assert not is_alive(other.pid)
        assert not stop(other.pid)
        assert other.poll() is None  # still running
    finally:
        os.kill(other.pid, signal.SIGKILL)
        other.wait()


def test_model_dir_of_reads_a_running_deployment_only(
    start_stub: Callable[[str], Deployment],
) -> None:
    deployment = start_stub("model-dir")
    assert model_dir_of(deployment.process.pid) == deployment.model_dir.resolve()
    assert model_dir_of(os.getpid()) is None  # not one of our servers
    assert stop(deployment.process.pid)
    assert model_dir_of(deployment.process.pid) is None
