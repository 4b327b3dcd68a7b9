"""``mlstack data sample`` and ``mlstack data split``: reproducible subsets of a data version.

Both choose files from the registered manifest (see :mod:`mlstack.workspace.sampling`), so
choosing costs no transfer; downloads are verified against that same manifest. A split
also writes one Azure ML CLI v2 data YAML per split, so the next ``pulumi up`` registers
the splits as assets of their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from mlstack.cli.inspect.common import (
    emit,
    human_bytes,
    open_workspace,
    require_live,
    resolve,
    resolve_dir,
    short_digest,
)
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.content.download import download
from mlstack.content.manifest import Manifest
from mlstack.errors import MlstackError
from mlstack.project import Project
from mlstack.workspace.asset import AssetVersion, upload_prefix
from mlstack.workspace.sampling import SplitPlan, sample, split

SCHEMA = "https://azuremlschemas.azureedge.net/latest/data.schema.json"
stderr = Console(stderr=True, highlight=False)

RefArgument = Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@latest")]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Progress bar on a terminal.")
]


def _files(manifest: Manifest) -> list[dict[str, Any]]:
    return [entry.to_dict() for entry in manifest.entries]


def sample_command(
    asset: RefArgument,
    *,
    fraction: Annotated[
        float | None, typer.Option("--fraction", help="Share of the files, e.g. 0.001.")
    ] = None,
    n: Annotated[int | None, typer.Option("--n", help="Number of files, e.g. 30.")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 0,
    download_to: Annotated[
        Path | None, typer.Option("--download", help="Also download the sample here.")
    ] = None,
    stack: StackOption = None,
    output: FormatOption = Format.table,
    progress: ProgressOption = True,
) -> None:
    """A reproducible random sample of a folder asset's files, optionally downloaded."""
    stack_name, ws = open_workspace(stack)
    version = require_live(resolve(ws.data, asset, stack_name), stack_name)
    chosen = sample(ws.data.manifest(version.name, version.version), n=n, fraction=fraction,
                    seed=seed)  # fmt: skip
    folder = resolve_dir(download_to) if download_to else None
    if folder is not None:
        download(ws.endpoint, ws.container, upload_prefix(version.digest, version.name),
                 chosen, folder, progress=progress)  # fmt: skip
    record = {
        "name": version.name, "version": version.version, "digest": version.digest,
        "seed": seed, "count": chosen.files, "bytes": chosen.bytes,
        "sample_digest": chosen.digest, "files": _files(chosen),
        "downloaded_to": str(folder) if folder else None,
    }  # fmt: skip

    def table() -> Table:
        where = f", downloaded to {folder}" if folder else ""
        title = (f"{chosen.files} of {version.files} files of {version.name}:{version.version} "
                 f"(seed {seed}){where}")  # fmt: skip
        table = Table(title=title)
        table.add_column("path", overflow="fold")
        table.add_column("size", justify="right")
        table.add_column("sha256", overflow="fold")
        for entry in chosen.entries:
            table.add_row(entry.path, human_bytes(entry.size), entry.sha256[:16])
        return table

    emit(output, record, table)


def _split_yaml(
    split_name: str, manifest: Manifest, *, version: AssetVersion, plan: SplitPlan,
    folder: Path, yaml_dir: Path,
) -> str:  # fmt: skip
    """The CLI v2 data spec of one split; its path is relative to the YAML, as `az ml` wants."""
    how = "stratified by folder" if plan.stratify_by_folder else "random"
    spec = {
        "$schema": SCHEMA,
        "name": f"{version.name}-{split_name}",
        "type": "uri_folder",
        "path": Path(os.path.relpath(folder, yaml_dir)).as_posix(),
        "description": (
            f"The {split_name} split ({manifest.files} files) of {version.name}:"
            f"{version.version}; train/val/test {plan.describe()}, {how}, seed {plan.seed}."
        ),
        "tags": {
            "source": f"{version.name}:{version.version}",
            "source_digest": version.digest,
            "split": split_name,
            "seed": str(plan.seed),
        },
    }
    head = (
        f"# Written by `mlstack data split`; the folder's digest is {manifest.digest}.\n"
        "# No `version:`: mlstack assigns the next version whenever the content changes.\n"
    )
    return head + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=88)


def _strays(folder: Path, manifest: Manifest) -> list[str]:
    """Files in ``folder`` the split does not list: they would join the registered asset."""
    if not folder.is_dir():
        return []
    wanted = set(manifest.by_path())
    found = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(path for path in found if path not in wanted)


def split_command(
    asset: RefArgument,
    *,
    out: Annotated[Path, typer.Option("--out", help="Folder for one subfolder per split.")],
    train: Annotated[float, typer.Option(help="Share of files for training.")] = 0.8,
    val: Annotated[float, typer.Option(help="Share for validation; the rest is test.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Same seed, same split.")] = 123,
    stratify_by_folder: Annotated[
        bool, typer.Option("--stratify-by-folder", help="Split each folder (label) on its own.")
    ] = False,
    yaml_dir: Annotated[
        Path | None,
        typer.Option("--yaml-dir", help="Where the asset YAMLs go; default <project>/assets/data."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite asset YAMLs that differ.")] = False,
    stack: StackOption = None,
    output: FormatOption = Format.table,
    progress: ProgressOption = True,
) -> None:
    """Split a data version into train/val/test folders plus an asset YAML for each."""
    plan = SplitPlan(train=train, val=val, seed=seed, stratify_by_folder=stratify_by_folder)
    project = Project.find()
    stack_name, ws = open_workspace(stack)
    version = require_live(resolve(ws.data, asset, stack_name), stack_name)
    splits = split(ws.data.manifest(version.name, version.version), plan)
    root = resolve_dir(out)
    specs = resolve_dir(yaml_dir) if yaml_dir else project.root / "assets" / "data"

    # Everything that could refuse is checked before the first byte is written.
    texts: dict[str, tuple[Path, str]] = {}
    for name, manifest in splits.items():
        folder = root / name
        if strays := _strays(folder, manifest):
            raise MlstackError(
                f"{folder} holds {len(strays)} file(s) not in the {name} split (e.g. "
                f"{strays[0]}): they would be registered with it; empty the folder or choose "
                "another --out"
            )
        file = specs / f"{version.name}-{name}.yaml"
        text = _split_yaml(name, manifest, version=version, plan=plan, folder=folder,
                           yaml_dir=specs)  # fmt: skip
        if file.exists() and file.read_text(encoding="utf-8") != text and not force:
            raise MlstackError(f"{file} exists and differs: pass --force to overwrite it")
        texts[name] = (file, text)

    prefix = upload_prefix(version.digest, version.name)
    for name, manifest in splits.items():
        download(ws.endpoint, ws.container, prefix, manifest, root / name, progress=progress)
    specs.mkdir(parents=True, exist_ok=True)
    for file, text in texts.values():
        file.write_text(text, encoding="utf-8")
    if not root.is_relative_to(project.root):
        stderr.print(f"note: {root} is outside the project {project.root}; `pulumi up` "
                     "registers only content inside it, so move the folders there")  # fmt: skip

    record = [
        {"split": name, "files": m.files, "bytes": m.bytes, "digest": m.digest,
         "path": str(root / name), "yaml": str(texts[name][0]),
         "paths": [e.path for e in m.entries]}
        for name, m in splits.items()
    ]  # fmt: skip

    def table() -> Table:
        table = Table(title=f"{version.name}:{version.version} split {plan.describe()}, "
                            f"seed {seed}")  # fmt: skip
        for column in ("split", "files", "size", "digest", "asset YAML"):
            table.add_column(column, overflow="fold")
        for name, m in splits.items():
            table.add_row(name, str(m.files), human_bytes(m.bytes), short_digest(m.digest),
                          texts[name][0].name)  # fmt: skip
        return table

    emit(output, record, table)
