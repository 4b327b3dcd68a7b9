"""``mlstack model …``: registered model versions, their metrics, stage, lineage and card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlstack.audit.card import card_facts, render_card
from mlstack.audit.records import gather
from mlstack.cli.inspect.archive import add_archive_commands
from mlstack.cli.inspect.common import (
    asset_table,
    console,
    detail_table,
    emit,
    human_bytes,
    open_workspace,
    require_live,
    resolve,
    resolve_dir,
)
from mlstack.cli.lineage import Format, FormatOption, StackOption, lineage_record
from mlstack.content.download import download
from mlstack.stack import open_stack
from mlstack.workspace.asset import AssetVersion, upload_prefix

model_app = typer.Typer(help="Model versions: list, show, download, archive, restore, card.",
                        no_args_is_help=True)  # fmt: skip

RefArgument = Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@latest")]


def flat_metrics(metrics: Any, prefix: str = "") -> dict[str, float]:
    """``{"test.accuracy": 0.98, ...}``: the numbers of a nested metrics record."""
    found: dict[str, float] = {}
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            found.update(flat_metrics(value, f"{prefix}{key}."))
    elif isinstance(metrics, int | float) and not isinstance(metrics, bool):
        found[prefix.rstrip(".")] = float(metrics)
    return found


def model_record(version: AssetVersion) -> dict[str, Any]:
    """The registry's record, with the lineage summary ``mlstack lineage`` shows."""
    record = version.to_dict()
    record["lineage"] = lineage_record(version)
    return record


@model_app.command("list")
def list_command(
    name: Annotated[str | None, typer.Argument(help="Only this model's versions.")] = None,
    stack: StackOption = None,
    output: FormatOption = Format.table,
) -> None:
    """Models and their versions, with stage; archived ones included."""
    stack_name, ws = open_workspace(stack)
    versions = ws.models.list(name)
    if name and not versions:
        resolve(ws.models, name, stack_name)
    emit(output, [v.to_dict() for v in versions],
         lambda: asset_table(f"models in {stack_name}", versions, content=False))  # fmt: skip


@model_app.command("show")
def show_command(
    model: RefArgument, stack: StackOption = None, output: FormatOption = Format.table
) -> None:
    """One model version: metrics, stage and a lineage summary (`mlstack lineage` has all)."""
    stack_name, ws = open_workspace(stack)
    version = resolve(ws.models, model, stack_name)
    lineage = lineage_record(version)
    metrics = flat_metrics(version.properties.get("metrics", {}))
    data = ", ".join(f"{d.get('name')}:{d.get('version')}" for d in lineage["data"]) or "-"
    env = lineage["environment"] or {}
    code = lineage["code"] or {}
    rows = [
        ("stage", version.stage or "-"),
        ("digest", version.digest),
        ("files", f"{version.files} ({human_bytes(version.bytes)})"),
        ("metrics", "\n".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())) or "-"),
        ("data", data),
        ("environment", f"{env['name']}:{env['version']}" if env.get("name") else "-"),
        ("code", (code.get("revision") or "-") + (" (dirty)" if code.get("dirty") else "")),
        ("created", version.created_at),
        ("archived", "yes" if version.archived else "no"),
    ]
    emit(output, model_record(version),
         lambda: detail_table(f"model {version.name}:{version.version}", rows))  # fmt: skip


@model_app.command("download")
def download_command(
    model: RefArgument,
    dest: Annotated[Path, typer.Argument(help="Folder to fill (created if missing).")],
    stack: StackOption = None,
    output: FormatOption = Format.table,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on a terminal.")
    ] = True,
) -> None:
    """Download a model version's files, verified; a rerun fetches only what is missing."""
    stack_name, ws = open_workspace(stack)
    version = require_live(resolve(ws.models, model, stack_name), stack_name)
    manifest = ws.models.manifest(version.name, version.version)
    folder = resolve_dir(dest)
    download(ws.endpoint, ws.container, upload_prefix(version.digest, version.name), manifest,
             folder, progress=progress)  # fmt: skip
    record = {"name": version.name, "version": version.version, "digest": version.digest,
              "files": manifest.files, "bytes": manifest.bytes, "path": str(folder)}  # fmt: skip
    emit(output, record, lambda: (
        f"{version.name}:{version.version}: {manifest.files} files "
        f"({human_bytes(manifest.bytes)}) in {folder}, each matching its manifest sha256"
    ))  # fmt: skip


@model_app.command("card")
def card_command(
    model: Annotated[str, typer.Argument(help="NAME:VERSION (or NAME, NAME@latest)")],
    stack: StackOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the Markdown here (the training curve picture beside it), not to stdout.",
        ),
    ] = None,
) -> None:
    """A Markdown model card built from the workspace's records.

    Intended use, data and class balance, metrics against gates, training curve,
    environment, promotion history and the endpoints serving it.
    """
    opened = open_stack(stack)
    version = resolve(opened.workspace().models, model, opened.name)
    target = None if output is None else resolve_dir(output)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    markdown = render_card(card_facts(opened, gather(opened, version), target))
    if target is None:
        print(markdown, end="")
        return
    target.write_text(markdown)
    console.print(f"wrote the model card of {version.name}:{version.version} to {output}",
                  markup=False)  # fmt: skip


add_archive_commands(model_app, "model", "model")
