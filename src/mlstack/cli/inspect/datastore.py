"""``mlstack datastore list``: where the workspace keeps asset content."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import typer
from rich.table import Table

from mlstack.cli.inspect.common import emit, open_workspace
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.project import Project
from mlstack.services.azurite import ACCOUNT, Azurite
from mlstack.workspace.asset import DATASTORE
from mlstack.workspace.local import LocalWorkspace

datastore_app = typer.Typer(help="Datastores of the stack's workspace.", no_args_is_help=True)


@dataclass(frozen=True)
class Datastore:
    """One datastore, in the columns `az ml datastore list` shows."""

    name: str
    type: str
    account: str
    container: str
    default: bool
    url: str | None


def local_datastores(ws: LocalWorkspace, project: Project) -> list[Datastore]:
    """The local workspace's one datastore: its container in this home's Azurite."""
    state = Azurite(project.home).state()
    url = f"{state.endpoint.url}/{ws.container}" if state else None
    return [Datastore(DATASTORE, "azure_blob", ACCOUNT, ws.container, True, url)]


@datastore_app.command("list")
def list_command(stack: StackOption = None, output: FormatOption = Format.table) -> None:
    """Datastores: name, type, account/container, default flag."""
    stack_name, ws = open_workspace(stack)
    stores = local_datastores(ws, Project.find())

    def table() -> Table:
        table = Table(title=f"datastores in {stack_name}")
        for column in ("name", "type", "account/container", "default"):
            table.add_column(column, overflow="fold")
        for s in stores:
            table.add_row(s.name, s.type, f"{s.account}/{s.container}", "yes" if s.default else "")
        return table

    emit(output, [asdict(s) for s in stores], table)
