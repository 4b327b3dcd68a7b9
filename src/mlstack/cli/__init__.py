"""The ``mlstack`` command: local services and offline settings beside ``pulumi``.

Errors mlstack raises on purpose are printed as one message and exit 1, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from mlstack.cli.batch import batch_app
from mlstack.cli.drift import drift_command
from mlstack.cli.endpoint import endpoint_app
from mlstack.cli.inspect import (
    component_app,
    compute_app,
    data_app,
    datastore_app,
    env_app,
    model_app,
    workspace_app,
)
from mlstack.cli.job import job_app
from mlstack.cli.lineage import lineage_command
from mlstack.cli.local import local_app, shell_env_command
from mlstack.cli.promote import promote_command
from mlstack.cli.review import review_command
from mlstack.errors import MlstackError

app = typer.Typer(
    help="Azure ML estates as code. Users run `pulumi` for preview/up; mlstack does the rest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local_app, name="local")
app.command("shell-env")(shell_env_command)
app.command("lineage")(lineage_command)
app.command("promote")(promote_command)
app.add_typer(endpoint_app, name="endpoint")
app.command("review")(review_command)
app.command("drift")(drift_command)
# Environment versions; `mlstack env` alone still prints shell-env's exports, with a notice.
app.add_typer(env_app, name="env")
app.add_typer(data_app, name="data")
app.add_typer(model_app, name="model")
app.add_typer(datastore_app, name="datastore")
app.add_typer(compute_app, name="compute")
app.add_typer(component_app, name="component")
app.add_typer(workspace_app, name="workspace")
app.add_typer(job_app, name="job")
app.add_typer(batch_app, name="batch")

stderr = Console(stderr=True, soft_wrap=True)  # one error, one line: no wrapping


def main() -> None:
    try:
        app()
    except MlstackError as error:
        stderr.print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(1)
