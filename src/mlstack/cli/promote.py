"""``mlstack promote``: pin a validated version of one stack into another, for review."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from mlstack.project import Project
from mlstack.promotion import promote

console = Console(highlight=False)


class Kind(StrEnum):
    model = "model"
    data = "data"


def promote_command(
    name: Annotated[str, typer.Argument(help="the model (or data asset) to promote")],
    source: Annotated[str, typer.Option("--from", help="stack to promote from")],
    target: Annotated[str, typer.Option("--to", help="stack to promote into")],
    version: Annotated[str | None, typer.Option(help="version; default: latest")] = None,
    kind: Annotated[Kind, typer.Option(help="model or data")] = Kind.model,
) -> None:
    """Check gates, archive state and content, then pin the version in the target's config.

    Review the diff, commit it, and run `pulumi up -s TARGET` to copy and register it.
    """
    result = promote(
        Project.find(), name, source=source, target=target, version=version, kind=kind.value
    )
    found = result.version
    console.print(
        f"pinned {result.kind} {result.name}:{found.version} ({found.digest[:19]}…) "
        f"from {source} into {result.stack_file.name}:"
    )
    # Verbatim, never wrapped or cropped: this is the text a reviewer approves.
    print(result.diff or "(already pinned: no change)", end="" if result.diff else "\n")
    console.print(f"next: review and commit the diff, then `pulumi up -s {target}`")
