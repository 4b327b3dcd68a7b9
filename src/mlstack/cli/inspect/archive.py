"""``mlstack data|model|env archive|restore NAME:VERSION``: the two commands every kind has.

Content is never deleted: archiving takes a version out of ``@latest`` (what the drift
report suggests for a version no resource registered), restoring puts it back.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mlstack.cli.inspect.common import archive, console, open_workspace, restore
from mlstack.cli.lineage import StackOption

__all__ = ["add_archive_commands"]

VersionArgument = Annotated[str, typer.Argument(metavar="NAME:VERSION")]


def add_archive_commands(app: typer.Typer, kind: str, noun: str) -> None:
    """Register ``restore`` and ``archive`` for ``kind``'s versions on ``app``."""
    article = "an" if noun[0] in "aeiou" else "a"

    @app.command(
        "restore",
        help=f"Un-archive {article} {noun} version (its content was kept), so latest can pick "
        "it again.",
    )
    def restore_command(ref: VersionArgument, stack: StackOption = None) -> None:
        stack_name, ws = open_workspace(stack)
        version = restore(ws.registry(kind), ref, stack_name)
        console.print(f"{noun} {version.name}:{version.version} is live (not archived).")

    @app.command(
        "archive",
        help=f"Archive {article} {noun} version: latest skips it, its content is kept, "
        "restore undoes it.",
    )
    def archive_command(ref: VersionArgument, stack: StackOption = None) -> None:
        stack_name, ws = open_workspace(stack)
        version = archive(ws.registry(kind), ref, stack_name)
        console.print(f"{noun} {version.name}:{version.version} is archived (restore undoes it).")
