"""``mlstack component …``: component versions in a stack's workspace (local target)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mlstack.cli.inspect.archive import add_archive_commands
from mlstack.cli.inspect.common import asset_table, detail_table, emit, open_workspace, resolve
from mlstack.cli.lineage import Format, FormatOption, StackOption

component_app = typer.Typer(help="Component versions (command, ports, code, environment).")


@component_app.command("list")
def list_command(
    name: Annotated[str | None, typer.Argument(help="Only this component's versions.")] = None,
    stack: StackOption = None,
    output: FormatOption = Format.table,
) -> None:
    """Components and their versions, archived ones included."""
    stack_name, ws = open_workspace(stack)
    registry = ws.registry("component")
    versions = registry.list(name)
    if name and not versions:
        resolve(registry, name, stack_name)
    emit(output, [v.to_dict() for v in versions],
         lambda: asset_table(f"components in {stack_name}", versions))  # fmt: skip


def _ports(ports: dict[str, Any]) -> str:
    """``name: type = default`` per port, one a line."""
    lines = []
    for key, port in sorted(ports.items()):
        default = f" = {json.dumps(port['default'])}" if "default" in port else ""
        lines.append(f"{key}: {port.get('type', '?')}{default}")
    return "\n".join(lines) or "-"


@component_app.command("show")
def show_command(
    component: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@latest")],
    stack: StackOption = None,
    output: FormatOption = Format.table,
) -> None:
    """One component version: command, inputs, outputs, environment and digests."""
    stack_name, ws = open_workspace(stack)
    version = resolve(ws.registry("component"), component, stack_name)
    spec = dict(version.properties.get("spec") or {})
    rows = [
        ("reference", f"azureml:{version.name}:{version.version}"),
        ("command", str(spec.get("command", "-"))),
        ("inputs", _ports(dict(spec.get("inputs") or {}))),
        ("outputs", _ports(dict(spec.get("outputs") or {}))),
        ("environment", str(spec.get("environment", "-"))),
        ("deterministic", "yes" if spec.get("is_deterministic") else "no"),
        ("code", f"{version.uri} ({version.files} files)"),
        ("digest", version.digest),
        ("description", version.description or "-"),
        ("created", version.created_at),
        ("archived", "yes" if version.archived else "no"),
    ]
    emit(output, version.to_dict(),
         lambda: detail_table(f"component {version.name}:{version.version}", rows))  # fmt: skip


add_archive_commands(component_app, "component", "component")
