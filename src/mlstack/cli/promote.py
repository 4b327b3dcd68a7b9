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


class Via(StrEnum):
    workspace = "workspace"
    registry = "registry"


def promote_command(  # noqa: PLR0917 - typer maps each parameter to an option
    name: Annotated[str, typer.Argument(help="the model (or data asset) to promote")],
    source: Annotated[str, typer.Option("--from", help="stack to promote from")],
    target: Annotated[str, typer.Option("--to", help="stack to promote into")],
    version: Annotated[str | None, typer.Option(help="version; default: latest")] = None,
    kind: Annotated[Kind, typer.Option(help="model or data")] = Kind.model,
    via: Annotated[
        Via,
        typer.Option(
            help="workspace: copied by the target's `pulumi up`; registry: "
            "shared into the target's Azure ML registry now, served from there"
        ),
    ] = Via.workspace,
) -> None:
    """Check gates, archive state and content, then pin the version in the target's config.

    Review the diff, commit it, and run `pulumi up -s TARGET` to copy and register it (or,
    with --via registry, to point the target's deployments at the registry's version).
    """
    result = promote(
        Project.find(), name, source=source, target=target, version=version, kind=kind.value,
        via=via.value,
    )  # fmt: skip
    found = result.version
    route = ""
    if via is Via.registry:
        route = " through the Azure ML registry (shared there, checked by digest)"
    console.print(
        f"pinned {result.kind} {result.name}:{found.version} ({found.digest[:19]}…) "
        f"from {source} into {result.stack_file.name}{route}:"
    )
    # Verbatim, never wrapped or cropped: this is the text a reviewer approves.
    print(result.diff or "(already pinned: no change)", end="" if result.diff else "\n")
    console.print(f"next: review and commit the diff, then `pulumi up -s {target}`")
