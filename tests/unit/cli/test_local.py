"""``mlstack local …`` and ``mlstack shell-env`` through the installed console script."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from mlstack.project import HOME_ENV, Project
from mlstack.services.azurite import HOST


def mlstack(project: Project, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A clean slate: `mlstack shell-env` keeps settings a user already exported.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env[HOME_ENV] = str(home)
    return subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), *args],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_start_status_stop(project: Project, tmp_path: Path) -> None:
    assert mlstack(project, tmp_path, "local", "status").returncode == 3
    started = mlstack(project, tmp_path, "local", "start")  # 10000, or a free port if taken
    assert started.returncode == 0, started.stderr
    assert "Azurite is running" in started.stdout
    status = mlstack(project, tmp_path, "local", "status")
    assert status.returncode == 0 and "Azurite is running" in status.stdout
    stopped = mlstack(project, tmp_path, "local", "stop")
    assert stopped.returncode == 0 and "Azurite stopped" in stopped.stdout
    assert mlstack(project, tmp_path, "local", "stop").stdout.strip() == "Azurite was not running."


def test_taken_port_is_one_clear_line_and_exit_1(project: Project, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = mlstack(project, tmp_path, "local", "start", "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} is taken" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "key",
    ["PATH", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_HOME",
     "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"],
)  # fmt: skip
def test_shell_env_exports_the_offline_settings(project: Project, tmp_path: Path, key: str) -> None:
    result = mlstack(project, tmp_path, "shell-env")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines()
    )
    assert key in exports
    assert (tmp_path / "state").is_dir()  # the file backend needs it to exist
    assert exports["PULUMI_BACKEND_URL"] == (tmp_path / "state").as_uri()
    assert exports["PATH"].startswith(str(project.tools / "bin"))


def test_bare_env_still_prints_the_exports_with_a_notice_naming_the_new_command(
    project: Project, tmp_path: Path
) -> None:
    old = mlstack(project, tmp_path, "env")
    new = mlstack(project, tmp_path, "shell-env")
    assert old.returncode == 0
    assert old.stdout == new.stdout  # eval "$(mlstack env)" keeps working, for now
    assert "mlstack shell-env" in old.stderr
    assert "mlstack env list" in old.stderr


def test_env_subcommands_are_environment_versions(project: Project, tmp_path: Path) -> None:
    result = mlstack(project, tmp_path, "env", "--help")
    assert result.returncode == 0
    assert "list" in result.stdout and "from-project" in result.stdout
    assert "shell exports" not in result.stdout
