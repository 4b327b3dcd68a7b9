"""``mlstack data …``: list, show, sample, split, download and restore data asset versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlstack.cli.inspect.archive import add_archive_commands
from mlstack.cli.inspect.common import (
    asset_table,
    detail_table,
    emit,
    human_bytes,
    open_workspace,
    require_live,
    resolve,
    resolve_dir,
)
from mlstack.cli.inspect.split import sample_command, split_command
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.content.download import download
from mlstack.content.manifest import Manifest
from mlstack.workspace.asset import AssetVersion, upload_prefix
from mlstack.workspace.protocol import Workspace

data_app = typer.Typer(help="Data asset versions: list, show, sample, split, download.",
                       no_args_is_help=True)  # fmt: skip
data_app.command("sample")(sample_command)
data_app.command("split")(split_command)

RefArgument = Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@latest")]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Progress bar on a terminal.")
]


def data_record(version: AssetVersion) -> dict[str, Any]:
    """A data version as JSON: the registry's record without the empty model fields."""
    record = version.to_dict()
    for key in ("properties", "stage"):
        record.pop(key)
    return record


@data_app.command("list")
def list_command(
    name: Annotated[str | None, typer.Argument(help="Only this asset's versions.")] = None,
    stack: StackOption = None,
    output: FormatOption = Format.table,
) -> None:
    """Data assets and their versions, archived ones included."""
    stack_name, ws = open_workspace(stack)
    versions = ws.data.list(name)
    if name and not versions:
        resolve(ws.data, name, stack_name)  # raises, listing the assets that do exist
    emit(output, [data_record(v) for v in versions],
         lambda: asset_table(f"data assets in {stack_name}", versions))  # fmt: skip


@data_app.command("show")
def show_command(
    asset: RefArgument, stack: StackOption = None, output: FormatOption = Format.table
) -> None:
    """One data version: type, URI, digest, size, tags."""
    stack_name, ws = open_workspace(stack)
    version = resolve(ws.data, asset, stack_name)
    rows = [
        ("type", version.type),
        ("uri", version.uri),
        ("digest", version.digest),
        ("files", f"{version.files} ({human_bytes(version.bytes)})"),
        ("description", version.description or "-"),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(version.tags.items())) or "-"),
        ("created", version.created_at),
        ("archived", f"yes: `mlstack data restore {version.name}:{version.version}` restores it"
                     if version.archived else "no"),
    ]  # fmt: skip
    emit(output, data_record(version),
         lambda: detail_table(f"data {version.name}:{version.version}", rows))  # fmt: skip


def fetch(
    ws: Workspace, version: AssetVersion, entries: Manifest, dest: Path, progress: bool
) -> None:
    """Bring ``entries`` (a manifest of the version's files) into ``dest``, verified."""
    prefix = upload_prefix(version.digest, version.name)
    download(ws.endpoint, ws.container, prefix, entries, dest, progress=progress)


@data_app.command("download")
def download_command(
    asset: RefArgument,
    dest: Annotated[Path, typer.Argument(help="Folder to fill (created if missing).")],
    stack: StackOption = None,
    output: FormatOption = Format.table,
    progress: ProgressOption = True,
) -> None:
    """Download a data version, verified file by file; a rerun fetches only what is missing."""
    stack_name, ws = open_workspace(stack)
    version = require_live(resolve(ws.data, asset, stack_name), stack_name)
    manifest = ws.data.manifest(version.name, version.version)
    folder = resolve_dir(dest)
    fetch(ws, version, manifest, folder, progress)
    record = {"name": version.name, "version": version.version, "digest": version.digest,
              "files": manifest.files, "bytes": manifest.bytes, "path": str(folder)}  # fmt: skip
    emit(output, record, lambda: (
        f"{version.name}:{version.version}: {manifest.files} files "
        f"({human_bytes(manifest.bytes)}) in {folder}, each matching its manifest sha256"
    ))  # fmt: skip


add_archive_commands(data_app, "data", "data")
