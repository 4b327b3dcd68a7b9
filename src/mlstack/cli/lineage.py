"""``mlstack lineage MODEL[:VERSION]``: the audit trail of a registered model version.

model → data asset versions and digests → environment → code revision, read from the
lineage the training run recorded and the registry froze as an immutable property.
``--format mermaid|png`` draws the lineage graph (:mod:`mlstack.audit.graph`): data →
run → model (gates) → environment → the stack's endpoint deployments, back through a
promotion to the source stack's version. A PNG goes to ``--output`` or, without it, to
``lineage-<model>-<version>.png`` in the working directory.
"""

from __future__ import annotations

import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlstack.audit.graph import render_mermaid, render_png
from mlstack.audit.records import gather
from mlstack.stack import open_stack
from mlstack.workspace.asset import AssetRef, AssetVersion

console = Console(highlight=False)


class Format(StrEnum):
    table = "table"
    json = "json"


class GraphFormat(StrEnum):
    """What ``mlstack lineage`` prints: the two shared formats, or the lineage graph."""

    table = "table"
    json = "json"
    mermaid = "mermaid"
    png = "png"


StackOption = Annotated[
    str | None, typer.Option("--stack", "-s", help="Stack; default: the selected one.")
]
FormatOption = Annotated[Format, typer.Option("--format", help="table or json")]


def lineage_record(model: AssetVersion) -> dict[str, Any]:
    """The audit trail as one JSON-ready record."""
    lineage = dict(model.properties.get("lineage", {}))
    return {
        "model": {"name": model.name, "version": model.version, "digest": model.digest,
                  "uri": model.uri, "created_at": model.created_at, "stage": model.stage,
                  "metrics": model.properties.get("metrics", {}).get("test", {})},
        "data": lineage.get("data", []),
        "environment": lineage.get("environment"),
        "code": lineage.get("code"),
        "job": lineage.get("job"),
        "pipeline": lineage.get("pipeline"),
        "promotion": model.properties.get("promotion"),
        "parameters": lineage.get("parameters", {}),
        "started_at": lineage.get("started_at"),
        "ended_at": lineage.get("ended_at"),
    }  # fmt: skip


def _table(record: dict[str, Any]) -> Table:
    model = record["model"]
    table = Table(title=f"lineage of {model['name']}:{model['version']}", show_lines=False)
    for column in ("what", "name / version", "digest or detail"):
        table.add_column(column, overflow="fold")
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(model["metrics"].items()))
    table.add_row("model", f"{model['name']}:{model['version']}", model["digest"])
    table.add_row("", "test metrics", metrics or "-")
    for item in record["data"]:
        table.add_row(f"data ({item.get('role', '?')})", f"{item['name']}:{item['version']}",
                      item.get("digest", ""))  # fmt: skip
    env = record["environment"] or {}
    env_name = f"{env['name']}:{env['version']}" if env.get("name") else "(not recorded)"
    table.add_row("environment", env_name, env.get("image", "") or "")
    code = record["code"] or {}
    revision = (code.get("revision") or "(no git revision)") + (
        " (dirty)" if code.get("dirty") else ""
    )
    table.add_row("code", code.get("script", ""), revision)
    promotion = record["promotion"]
    if promotion:
        source = f"{promotion['source_stack']}:{promotion['source_version']}"
        where = promotion.get("source_workspace") or f"local:{promotion['source_stack']}"
        table.add_row("promoted from", source, f"{where} on {promotion['promoted_at']}")
    pipeline = record["pipeline"] or {}
    if pipeline.get("id"):
        table.add_row("pipeline", str(pipeline["id"]), str(pipeline.get("display_name") or ""))
        for step, job in (pipeline.get("steps") or {}).items():
            table.add_row(f"  step {step}", str(job), "")
    elif record["job"]:
        table.add_row("job", str(record["job"]), "")
    params = ", ".join(f"{k}={v}" for k, v in sorted(record["parameters"].items()))
    table.add_row("parameters", "", params or "-")
    table.add_row("trained", "", f"{record['started_at']} → {record['ended_at']}")
    return table


def lineage_command(
    model: Annotated[str, typer.Argument(help="MODEL, MODEL:VERSION or MODEL@latest")],
    stack: StackOption = None,
    output: Annotated[
        GraphFormat, typer.Option("--format", help="table, json, mermaid or png")
    ] = GraphFormat.table,
    file: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here (png default: lineage-NAME-VERSION.png)."),
    ] = None,
) -> None:
    """Print a model version's audit trail: data versions, environment, code revision;
    or draw its lineage graph (mermaid, png)."""
    opened = open_stack(stack)
    ref = AssetRef.parse(model)
    version = opened.workspace().models.get(ref.name, ref.version)
    if output is GraphFormat.png:
        graph = gather(opened, version).graph()
        target = file or Path(f"lineage-{version.name}-{version.version}.png")
        render_png(graph, target)
        typer.echo(f"wrote the lineage of {version.name}:{version.version} to {target}", err=True)
        return
    if output is GraphFormat.mermaid:
        text = render_mermaid(gather(opened, version).graph())
    elif output is GraphFormat.json:
        record = {**lineage_record(version), "graph": gather(opened, version).graph().to_dict()}
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    elif file is not None:  # the table as plain text
        recorder = Console(width=100, record=True, file=io.StringIO())
        recorder.print(_table(lineage_record(version)))
        text = recorder.export_text()
    else:
        console.print(_table(lineage_record(version)))
        return
    if file is None:
        print(text, end="")
    else:
        file.write_text(text)
        typer.echo(f"wrote the lineage of {version.name}:{version.version} to {file}", err=True)
