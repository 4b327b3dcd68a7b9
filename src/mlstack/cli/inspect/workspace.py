"""``mlstack workspace show``: what the stack's workspace is and where its state lives.

Locally: the catalog, the container and whether Azurite runs. On Azure: the workspace's
ARM id and settings from the stack file, with no request sent, so it answers even when
signing in would fail; `az ml workspace show` has the service's own view.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import typer
from azure.core.exceptions import AzureError

from mlstack.cli.inspect.azure import AzureView, open_azure
from mlstack.cli.inspect.common import detail_table, emit
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.project import Project
from mlstack.services.azurite import Azurite
from mlstack.stack import open_stack
from mlstack.toolchain import offline_environment
from mlstack.workspace.local import catalog_path
from mlstack.workspace.open import open_local
from mlstack.workspace.protocol import EmulatedWorkspace

workspace_app = typer.Typer(help="The stack's workspace.", no_args_is_help=True)


def _record(ws: EmulatedWorkspace) -> dict[str, Any]:
    """The workspace record read from the catalog alone (no Azurite needed: this command
    must answer, and say Azurite is down, without it)."""
    info = ws.record()
    return {"name": info.name, "description": info.description, "tags": dict(info.tags),
            "created_at": info.created_at}  # fmt: skip


def local_workspace(stack: str, ws: EmulatedWorkspace, project: Project) -> dict[str, Any]:
    state = Azurite(project.home).state()
    container_exists = None
    if state is not None:
        client = state.endpoint.client(retries=0)
        with suppress(AzureError):  # alive but not answering: report "unknown"
            container_exists = client.get_container_client(ws.container).exists()
    return {
        "stack": stack,
        "target": "local",
        **_record(ws),
        "container": ws.container,
        "container_exists": container_exists,
        "catalog": str(catalog_path(project.home, stack)),
        "state_backend": offline_environment(project)["PULUMI_BACKEND_URL"],
        "azurite": {"running": state is not None,
                    "url": state.endpoint.url if state else None,
                    "pid": state.pid if state else None},
        "counts": {"data": len(ws.data.list()), "models": len(ws.models.list()),
                   "environments": len(ws.environments.list())},
    }  # fmt: skip


def azure_workspace(view: AzureView, project: Project) -> dict[str, Any]:
    s = view.settings
    return {
        "stack": view.stack,
        "target": "azure",
        "name": s.workspace_name,
        "id": view.workspace_id,
        "subscription_id": s.subscription_id,
        "resource_group": s.resource_group,
        "location": s.location,
        "datastore": s.datastore,
        "storage_account": s.storage_account,
        "container_registry": s.container_registry,
        "ml_registry": s.ml_registry.name if s.ml_registry else "",
        "studio": f"https://ml.azure.com/?wsid={view.workspace_id}",
        "state_backend": offline_environment(project)["PULUMI_BACKEND_URL"],
    }


def _show_azure(view: AzureView, project: Project, output: Format) -> None:
    info = azure_workspace(view, project)
    rows = [
        ("stack", f"{view.stack} (target azure)"),
        ("workspace", info["name"]),
        ("subscription", info["subscription_id"]),
        ("resource group", f"{info['resource_group']} ({info['location']})"),
        ("datastore", f"{info['datastore']} (account {info['storage_account']})"),
        ("container registry", info["container_registry"]),
        ("Azure ML registry", info["ml_registry"] or "(none)"),
        ("state backend", info["state_backend"]),
        ("studio", info["studio"]),
    ]
    emit(output, info, lambda: detail_table(f"workspace of stack {view.stack}", rows))


@workspace_app.command("show")
def show_command(stack: StackOption = None, output: FormatOption = Format.table) -> None:
    """Stack, workspace, datastore container, catalog, state backend and Azurite status."""
    opened = open_stack(stack)
    project, stack_name, config = opened.project, opened.name, opened.config
    if config.target == "azure":
        _show_azure(open_azure(stack_name, config), project, output)
        return
    info = local_workspace(stack_name, open_local(project, stack_name), project)
    azurite = info["azurite"]
    running = (f"running at {azurite['url']} (pid {azurite['pid']})" if azurite["running"]
               else "not running: start it with `mlstack local start`")  # fmt: skip
    exists = {True: "", False: " (missing!)", None: ""}[info["container_exists"]]
    counts = info["counts"]
    rows = [
        ("stack", f"{stack_name} (target local)"),
        ("workspace", info["name"]),
        ("description", info["description"] or "-"),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(info["tags"].items())) or "-"),
        ("container", info["container"] + exists),
        ("catalog", info["catalog"]),
        ("state backend", info["state_backend"]),
        ("Azurite", running),
        ("versions", f"{counts['data']} data, {counts['models']} model, "
                     f"{counts['environments']} environment"),
        ("created", info["created_at"]),
    ]  # fmt: skip
    emit(output, info, lambda: detail_table(f"workspace of stack {stack_name}", rows))
