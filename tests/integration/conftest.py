"""Drive the real pulumi CLI on a throwaway copy of the project.

The copy shares the repo's venv, toolchain and policy pack (symlinks) and the session's
Azurite home, but has its own state backend and stack files, so tests never touch the
developer's stacks and can run in parallel with a `make demo`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from mlstack.project import HOME_ENV, Project
from mlstack.services.azurite import ServiceState
from mlstack.toolchain import offline_environment

ENGINE_FLAGS = ("--skip-plugin-pre-install",)
ENGINE_COMMANDS = {"up", "preview", "refresh", "destroy"}


@dataclass
class Pulumi:
    """The real CLI, run in ``cwd`` with the offline environment, on one stack."""

    cwd: Path
    env: dict[str, str]
    stack: str

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["pulumi", *args, "--non-interactive"]
        if args[0] in ENGINE_COMMANDS:
            command += [*ENGINE_FLAGS, "--stack", self.stack]
        result = subprocess.run(
            command, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=600,
            check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def outputs(self) -> dict[str, Any]:
        out = self.run("stack", "output", "--json", "--stack", self.stack).stdout
        return dict(json.loads(out))

    def preview_steps(self) -> list[dict[str, Any]]:
        """The steps of ``pulumi preview --json``, as the engine reports them."""
        return list(json.loads(self.run("preview", "--json").stdout).get("steps", []))


def engine_leftovers(project: Path) -> list[psutil.Process]:
    """Live processes, other than this one, working in ``project`` (a project copy) or
    naming it in their command line: what an engine run there started."""
    inside = str(project)
    found = []
    for process in psutil.process_iter(["cmdline", "cwd", "status"]):
        info = process.info
        if process.pid == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        where = [info["cwd"] or "", *(info["cmdline"] or [])]
        if any(part == inside or part.startswith(inside + os.sep) for part in where):
            found.append(process)
    return found


def end_engine(engine: subprocess.Popen[bytes], project: Path) -> None:
    """SIGKILL an engine started in a session of its own and everything it started.

    The process group is not enough: pulumi starts its language host and provider
    plugins in groups of their own, and a provider killed only by its parent's death
    goes on running. So its tree as found before the kill, and anything still working
    in ``project`` afterwards, are killed too.
    """
    tree: list[psutil.Process] = []
    with contextlib.suppress(psutil.NoSuchProcess):
        tree = psutil.Process(engine.pid).children(recursive=True)
    os.killpg(engine.pid, signal.SIGKILL)
    engine.wait()
    started = [*tree, *engine_leftovers(project)]
    for process in started:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(started, timeout=30)


def make_project_copy(root: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(root / name, dest / name)
    for name in (".venv", ".tools", "policy"):  # policy: the pack, with its own .venv
        (dest / name).symlink_to(root / name)
    (dest / "stacks").mkdir()
    return dest


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory, project: Project) -> Path:
    """The digits sample dataset, written once per session by the real prepare script."""
    out = tmp_path_factory.mktemp("digits") / "digits"
    script = project.root / "training" / "prepare_data.py"
    subprocess.run(
        [str(project.root / ".venv/bin/python"), str(script), "--out", str(out)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return out


def add_data(cli: Pulumi, project: Project, digits: Path) -> Path:
    """Give the project copy the shipped data asset YAML and its own copy of the data."""
    shutil.copytree(project.root / "assets" / "data", cli.cwd / "assets" / "data")
    data = cli.cwd / "data" / "digits"
    shutil.copytree(digits, data)
    return data


def new_stack(
    root: Path, dest: Path, home: Path, config: str, *, stack: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Pulumi:  # fmt: skip
    """A stack with ``config`` as its stack file, on a copy of the project at ``dest``, with
    a state backend of its own and ``home`` as its mlstack home."""
    copy = make_project_copy(root, dest)
    stack = stack or f"it-{uuid.uuid4().hex[:8]}"
    (copy / "stacks" / f"Pulumi.{stack}.yaml").write_text(config)
    base = {k: v for k, v in os.environ.items() if k not in ("PULUMI_BACKEND_URL", "PULUMI_HOME")}
    base |= extra_env or {}
    base[HOME_ENV] = str(home)  # the provider finds the session's Azurite here
    base["PULUMI_BACKEND_URL"] = (dest.parent / f"{dest.name}-state").as_uri()
    env = {**base, **offline_environment(Project(copy), base)}
    Path(env["PULUMI_BACKEND_URL"].removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    cli = Pulumi(copy, env, stack)
    cli.run("stack", "init", stack)
    return cli


def local_config(project: Project) -> str:
    """``stacks/Pulumi.local.yaml`` without its encryption salt (a new stack makes its own)."""
    local = (project.root / "stacks" / "Pulumi.local.yaml").read_text()
    lines = [line for line in local.splitlines() if not line.startswith("encryptionsalt")]
    return "\n".join(lines) + "\n"


@pytest.fixture
def pulumi(
    tmp_path: Path, project: Project, azurite: ServiceState, azurite_home: Path
) -> Iterator[Pulumi]:
    """A fresh stack (config copied from ``stacks/Pulumi.local.yaml``) on a copy of the project."""
    cli = new_stack(project.root, tmp_path / "project", azurite_home, local_config(project))
    yield cli
    cli.run("destroy", "--yes", check=False)
    cli.run("stack", "rm", "--yes", "--force", cli.stack, check=False)
