"""The ``mlstack`` command: local services and offline settings beside ``pulumi``.

Errors mlstack raises on purpose are printed as one message and exit 1, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from mlstack.cli.lineage import lineage_command
from mlstack.cli.local import env_command, local_app
from mlstack.errors import MlstackError

app = typer.Typer(
    help="Azure ML estates as code. Users run `pulumi` for preview/up; mlstack does the rest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local_app, name="local")
app.command("env")(env_command)
app.command("lineage")(lineage_command)

stderr = Console(stderr=True)


def main() -> None:
    try:
        app()
    except MlstackError as error:
        stderr.print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(1)
