"""What every inspection command shares: the stack's workspace, version look-up, output.

The commands reach a workspace only through :func:`open_workspace`, typed as the
:class:`~mlstack.workspace.protocol.Workspace` both targets satisfy: the registries'
``get``/``list``/``manifest``/``set_archived`` with the same semantics and errors, and
content through a ``BlobEndpoint`` + container (Azurite locally, the datastore on Azure).
Target-specific facts (datastores, compute, where state lives) are gathered per target in
their modules, which tell the targets apart by the stack's config.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mlstack.cli.lineage import Format
from mlstack.errors import MlstackError, NotFoundError
from mlstack.stack import open_stack
from mlstack.workspace.asset import AssetRef, AssetVersion
from mlstack.workspace.protocol import AssetRegistry, Workspace

console = Console(highlight=False)
# The Azure ML CLI's own words for each kind, used in messages and hints.
NOUN = {"data": "data", "model": "model", "environment": "env", "component": "component"}


def open_workspace(stack: str | None) -> tuple[str, Workspace]:
    """The stack's name and its workspace, through the workspace protocol.

    The stack's config is validated first (every problem at once); connecting sends no
    request, so a sign-in problem surfaces at the first one, as "run `az login`".
    """
    opened = open_stack(stack)
    return opened.name, opened.workspace()


def _available(versions: Sequence[AssetVersion]) -> str:
    shown = [f"{v.version} (archived)" if v.archived else v.version for v in versions]
    return ", ".join(shown)


def resolve(registry: AssetRegistry, text: str, stack: str) -> AssetVersion:
    """The version ``text`` names (NAME, NAME:VERSION, NAME@latest), or an error that lists
    what exists; latest skips archived versions, as Azure ML's does."""
    ref = AssetRef.parse(text)
    kind, noun = registry.kind, NOUN[registry.kind]
    versions = registry.list(ref.name)
    if not versions:
        names = sorted({v.name for v in registry.list()})
        known = f"its {kind} assets are {', '.join(names)}" if names else f"it has no {kind} assets"
        raise NotFoundError(
            f"no {kind} asset {ref.name!r} in stack {stack!r}: {known} "
            f"(see `mlstack {noun} list -s {stack}`)"
        )
    if ref.version is None:
        live = [v for v in versions if not v.archived]
        if not live:
            newest = versions[-1].version
            raise NotFoundError(
                f"every version of {kind} {ref.name} is archived ({_available(versions)}): "
                f"restore one with `mlstack {noun} restore {ref.name}:{newest} -s {stack}`, "
                f"or name one explicitly"
            )
        return live[-1]
    for version in versions:
        if version.version == ref.version:
            return version
    raise NotFoundError(
        f"{kind} asset {ref.name} has no version {ref.version!r}: its versions are "
        f"{_available(versions)}"
    )


def require_live(version: AssetVersion, stack: str) -> AssetVersion:
    """Refuse to read the content of an archived version; say how to restore it."""
    if version.archived:
        noun = NOUN[version.kind]
        raise MlstackError(
            f"{version.kind} {version.name}:{version.version} is archived: restore it with "
            f"`mlstack {noun} restore {version.name}:{version.version} -s {stack}` first"
        )
    return version


def restore(registry: AssetRegistry, text: str, stack: str) -> AssetVersion:
    """Un-archive one named version (the content was never deleted)."""
    return _set_archived(registry, text, stack, archived=False)


def archive(registry: AssetRegistry, text: str, stack: str) -> AssetVersion:
    """Archive one named version: ``@latest`` skips it, its content is kept, and ``restore``
    undoes it (what the drift report suggests for a version no resource registered)."""
    return _set_archived(registry, text, stack, archived=True)


def _set_archived(
    registry: AssetRegistry, text: str, stack: str, *, archived: bool
) -> AssetVersion:
    ref = AssetRef.parse(text)
    if ref.version is None:
        verb = "archive" if archived else "restore"
        raise MlstackError(f"name the version to {verb}: {ref.name}:VERSION")
    found = resolve(registry, text, stack)
    if found.archived == archived:
        return found
    return registry.set_archived(found.name, found.version, archived=archived)


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def short_digest(digest: str) -> str:
    """``sha256:1a2b3c4d5e6f``: enough to tell versions apart in an 80-column table."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else digest[:19]


def day(timestamp: str) -> str:
    return timestamp[:10]


def emit(output: Format, record: Any, table: Callable[[], Table | str]) -> None:
    """Print ``record`` as JSON (sorted keys) or the table ``table`` builds."""
    if output is Format.json:
        print(json.dumps(record, indent=2, sort_keys=True))
        return
    shown = table()
    if isinstance(shown, str):
        console.print(shown, markup=False)  # paths and names may hold [brackets]
    else:
        console.print(shown)


def asset_table(title: str, versions: Sequence[AssetVersion], content: bool = True) -> Table:
    """One row per version; digests shortened so the table fits 80 columns."""
    table = Table(title=title)
    table.add_column("name", overflow="fold")
    table.add_column("ver", justify="right")
    table.add_column("digest", overflow="fold")
    if content:
        table.add_column("files", justify="right")
        table.add_column("size", justify="right")
    else:
        table.add_column("stage")
    table.add_column("created")
    table.add_column("archived")
    for v in versions:
        middle = [str(v.files), human_bytes(v.bytes)] if content else [v.stage or "-"]
        table.add_row(v.name, v.version, short_digest(v.digest), *middle, day(v.created_at),
                      "yes" if v.archived else "")  # fmt: skip
    return table


def detail_table(title: str, rows: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for field, value in rows:
        table.add_row(field, value)
    return table


def resolve_dir(path: Path) -> Path:
    return path.expanduser().resolve()
