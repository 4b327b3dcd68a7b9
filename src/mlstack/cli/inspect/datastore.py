"""``mlstack datastore list``: where the workspace keeps asset content.

Locally, the one container in this home's Azurite; on Azure, every datastore of the
workspace as the service lists it (two requests: the list, and the default's name, which
azure-ai-ml's entities drop).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import typer
from rich.table import Table

from mlstack.cli.inspect.azure import AzureView, open_azure
from mlstack.cli.inspect.common import emit
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.project import Project
from mlstack.services.azurite import ACCOUNT, Azurite
from mlstack.stack import open_stack
from mlstack.workspace.asset import DATASTORE
from mlstack.workspace.protocol import Workspace

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


def local_datastores(ws: Workspace, project: Project) -> list[Datastore]:
    """The local workspace's one datastore: its container in this home's Azurite."""
    state = Azurite(project.home).state()
    url = f"{state.endpoint.url}/{ws.container}" if state else None
    return [Datastore(DATASTORE, "azure_blob", ACCOUNT, ws.container, True, url)]


def _snake(value: Any) -> str:
    """``azure_blob`` for azure-ai-ml's ``DatastoreType.AZURE_BLOB`` (value ``AzureBlob``),
    as `az ml datastore list` and the local target spell it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", str(getattr(value, "value", value))).lower()


def _azure_datastore(store: Any, default: str) -> Datastore:
    """A datastore entity in our columns; only blob datastores have a blob URL."""
    account = str(getattr(store, "account_name", None) or "-")
    container = (getattr(store, "container_name", None) or getattr(store, "file_share_name", None)
                 or getattr(store, "filesystem", None) or "-")  # fmt: skip
    url = None
    if _snake(store.type) == "azure_blob":
        url = f"{store.protocol or 'https'}://{account}.blob.{store.endpoint}/{container}"
    return Datastore(str(store.name), _snake(store.type), account, str(container),
                     store.name == default, url)  # fmt: skip


def azure_datastores(view: AzureView) -> list[Datastore]:
    """The workspace's datastores, by name; no secrets are read."""
    from mlstack.workspace.azure_registry import service_errors  # noqa: PLC0415 - azure-ai-ml

    operations = view.client.datastores
    what = f"listing the datastores of workspace {view.settings.workspace_name}"
    with service_errors(what):
        default = str(operations.get_default().name)
        stores = list(operations.list())
    return sorted((_azure_datastore(s, default) for s in stores), key=lambda s: s.name)


@datastore_app.command("list")
def list_command(stack: StackOption = None, output: FormatOption = Format.table) -> None:
    """Datastores: name, type, account/container, default flag."""
    opened = open_stack(stack)
    stack_name, config = opened.name, opened.config
    if config.target == "azure":
        stores = azure_datastores(open_azure(stack_name, config))
    else:
        stores = local_datastores(opened.workspace(), opened.project)

    def table() -> Table:
        table = Table(title=f"datastores in {stack_name}")
        for column in ("name", "type", "account/container", "default"):
            table.add_column(column, overflow="fold")
        for s in stores:
            table.add_row(s.name, s.type, f"{s.account}/{s.container}", "yes" if s.default else "")
        return table

    emit(output, [asdict(s) for s in stores], table)
