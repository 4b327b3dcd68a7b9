"""``mlstack env …``: environment versions, and a conda file pinned from the project's lock.

The offline shell exports are ``mlstack shell-env``. ``mlstack env`` with no subcommand
still prints them for a while, as it did before the environment commands existed, so
``eval "$(mlstack env)"`` keeps working; a notice on stderr names the new command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from mlstack.cli.inspect.archive import add_archive_commands
from mlstack.cli.inspect.common import (
    asset_table,
    detail_table,
    emit,
    open_workspace,
    resolve,
    resolve_dir,
)
from mlstack.cli.inspect.lock import conda_spec, locked_pins
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.cli.local import shell_env_command
from mlstack.project import Project

env_app = typer.Typer(
    help="Environment versions (image + conda spec).",
    invoke_without_command=True,
)
DEPRECATED_EXPORTS = (
    "notice: `mlstack env` with no subcommand prints the offline shell exports only for a "
    'while: use `mlstack shell-env` (eval "$(mlstack shell-env)"). `mlstack env list`, '
    "`show` and `from-project` are about environment versions."
)


@env_app.callback()
def versions(ctx: typer.Context) -> None:
    """Environment versions (image + conda spec) in a stack's workspace."""
    if ctx.invoked_subcommand is None:
        # stderr, so `eval "$(mlstack env)"` still evaluates only the exports
        typer.echo(DEPRECATED_EXPORTS, err=True)
        shell_env_command()


@env_app.command("list")
def list_command(
    name: Annotated[str | None, typer.Argument(help="Only this environment's versions.")] = None,
    stack: StackOption = None,
    output: FormatOption = Format.table,
) -> None:
    """Environments and their versions, archived ones included."""
    stack_name, ws = open_workspace(stack)
    versions = ws.environments.list(name)
    if name and not versions:
        resolve(ws.environments, name, stack_name)
    emit(output, [v.to_dict() for v in versions],
         lambda: asset_table(f"environments in {stack_name}", versions, content=False))  # fmt: skip


@env_app.command("show")
def show_command(
    env: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@latest")],
    stack: StackOption = None,
    output: FormatOption = Format.table,
) -> None:
    """One environment version: image, conda spec and digest."""
    stack_name, ws = open_workspace(stack)
    version = resolve(ws.environments, env, stack_name)
    conda = version.properties.get("conda", {})
    rows = [
        ("image", str(version.properties.get("image", "-"))),
        ("digest", version.digest),
        ("reference", f"azureml:{version.name}:{version.version}"),
        ("description", version.description or "-"),
        ("created", version.created_at),
        ("archived", "yes" if version.archived else "no"),
        ("conda", yaml.safe_dump(conda, sort_keys=False).rstrip() if conda else "-"),
    ]
    emit(output, version.to_dict(),
         lambda: detail_table(f"environment {version.name}:{version.version}", rows))  # fmt: skip


@env_app.command("from-project")
def from_project_command(
    name: Annotated[str, typer.Argument(help="The environment asset's name.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Conda file; default <project>/assets/environments/NAME.conda.yaml."),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Keep only these direct dependencies (repeatable)."),
    ] = None,
    output: FormatOption = Format.table,
) -> None:
    """Write a conda file pinning the project's direct dependencies to their uv.lock versions."""
    project = Project.find()
    python, pins = locked_pins(project.root, only)
    path = resolve_dir(out) if out else project.root / "assets" / "environments"
    if out is None:
        path = path / f"{name}.conda.yaml"
    text = conda_spec(name, python, pins)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    record = {"name": name, "path": str(path), "python": python,
              "pins": [str(p) for p in pins]}  # fmt: skip
    emit(output, record, lambda: (
        f"wrote {path}: python {python} and {len(pins)} pinned dependencies from uv.lock "
        f"({', '.join(str(p) for p in pins[:3])}{', …' if len(pins) > 3 else ''}); point "
        f"`conda_file:` of the environment YAML at it"
    ))  # fmt: skip


add_archive_commands(env_app, "environment", "environment")
