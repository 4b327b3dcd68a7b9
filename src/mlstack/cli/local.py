"""``mlstack local …`` (Azurite) and ``mlstack shell-env`` (offline Pulumi settings)."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer
from rich.console import Console

from mlstack.project import Project
from mlstack.services.azurite import Azurite
from mlstack.toolchain import offline_environment

local_app = typer.Typer(help="Manage the offline target's local services.", no_args_is_help=True)
console = Console(highlight=False)


def _azurite() -> Azurite:
    project = Project.find()
    return Azurite(project.home, project.tools)


@local_app.command()
def start(
    port: Annotated[
        int | None, typer.Option(help="Blob port; default 10000, or a free one if that is taken.")
    ] = None,
) -> None:
    """Start Azurite (idempotent) and wait until it answers."""
    state = _azurite().start(port)
    console.print(f"Azurite is running: pid {state.pid}, {state.endpoint.url}")


@local_app.command()
def stop() -> None:
    """Stop the Azurite this project started (by its recorded pid only)."""
    state = _azurite().stop()
    console.print(f"Azurite stopped (pid {state.pid})." if state else "Azurite was not running.")


@local_app.command()
def status() -> None:
    """Say whether Azurite is running, and where."""
    state = _azurite().state()
    if state is None:
        console.print("Azurite is not running; start it with `mlstack local start`.")
        raise typer.Exit(3)
    console.print(f"Azurite is running: pid {state.pid}, {state.endpoint.url}")
    console.print(f"Data: {state.location}")


def shell_env_command() -> None:
    """Print shell exports for running `pulumi` offline on local stacks.

    Use it as: eval "$(mlstack shell-env)"

    Also creates the local state folder, which the file backend requires to exist.
    """
    project = Project.find()
    (project.home / "state").mkdir(parents=True, exist_ok=True)
    for key, value in offline_environment(project).items():
        print(f"export {key}={shlex.quote(value)}")
