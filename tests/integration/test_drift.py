"""``mlstack drift`` on stacks brought up by the real engine, changed behind their back.

One local stack (data, environment, a model from the fixed test artefact, and an endpoint
whose two deployments run a stub entry script, so no training is needed) goes through
every finding: a version registered directly through the workspace API, a served version
archived outside mlstack, a traffic split changed in the router's table — and the fixes
the report names bring it back to no drift. The orphan case runs on an attach-mode azure
stack too, through the loopback Azure ML service: the same code above the protocol.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.project import Project
from mlstack.services.azurite import ServiceState
from mlstack.serving.routes import Routes
from mlstack.workspace import Workspace, open_workspace, register_folder
from tests.integration.conftest import Pulumi, add_data, new_stack

if TYPE_CHECKING:
    from tests.support.azureml import WorkspaceRef

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTEFACT = ROOT / "tests" / "fixtures" / "state-v0" / "artefact"
STUB_SCORE = "def init():\n    pass\n\n\ndef run(raw_data):\n    return {'predictions': []}\n"


def drift(cli: Pulumi) -> tuple[int, Any]:
    """``mlstack drift --format json`` as a user runs it: its exit code and its report."""
    result = subprocess.run(
        [str(ROOT / ".venv/bin/mlstack"), "drift", "-s", cli.stack, "--format", "json"],
        cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def found(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["kind"], f["subject"]) for f in report["findings"]]


def pipeline_output(root: Path, ws: Workspace, name: str) -> str:
    """Register a folder as data ``name`` directly through the workspace API, as a
    pipeline or a notebook would; return its version."""
    folder = root / name
    folder.mkdir()
    (folder / "features.csv").write_text("id,value\n1,0.5\n")
    registered = register_folder(ws, "data", name, folder, scan(folder, NoCache()),
                                 type_="uri_folder")  # fmt: skip
    return registered.version.version


def test_drift_finds_what_changed_behind_a_local_stacks_back(
    pulumi: Pulumi, project: Project, digits: Path, azurite_home: Path, tmp_path: Path
) -> None:
    cli = pulumi
    add_data(cli, project, digits)
    for name in ("digits-train.yaml", "digits-test.yaml"):  # one data asset keeps it short
        (cli.cwd / "assets" / "data" / name).unlink()
    for folder in ("environments", "models", "endpoints"):
        shutil.copytree(project.root / "assets" / folder, cli.cwd / "assets" / folder)
    shutil.copytree(ARTEFACT, cli.cwd / "outputs" / "digits-cnn")
    (cli.cwd / "training").mkdir()  # the deployments' code: a stub entry script
    (cli.cwd / "training" / "score.py").write_text(STUB_SCORE)
    (cli.cwd / "training" / "batch_score.py").write_text(STUB_SCORE)  # digits-batch's
    endpoints = cli.cwd / "assets" / "endpoints"
    blue = (endpoints / "digits-blue.yaml").read_text()
    (endpoints / "digits-green.yaml").write_text(blue.replace("name: blue", "name: green"))
    spec = endpoints / "digits.yaml"
    spec.write_text(spec.read_text().replace("  blue: 100\n", "  blue: 100\n  green: 0\n"))
    cli.run("up", "--yes")

    assert drift(cli) == (0, {"stack": cli.stack, "target": "local", "drift": False,
                              "findings": []})  # fmt: skip

    # Behind the stack's back: a version registered straight through the workspace API, a
    # version the stack serves archived outside mlstack, traffic moved in the router.
    ws = open_workspace(LocalLocator(stack=cli.stack), home=azurite_home)
    number = pipeline_output(tmp_path, ws, "pipeline-features")
    ws.data.set_archived("digits-val", "1", True)
    table = azurite_home / "stacks" / cli.stack / "endpoints" / "digits" / "routes.json"
    routes = Routes.load(table)
    assert routes.traffic == {"blue": 100, "green": 0}
    replace(routes, traffic={"blue": 50, "green": 50}).write(table)
    code, report = drift(cli)
    assert code == 1
    assert found(report) == [
        ("archived", "data digits-val:1"),
        ("orphan", f"data pipeline-features:{number}"),
        ("traffic", "endpoint digits"),
    ]
    archived, orphan, traffic = report["findings"]
    assert traffic["detail"] == (
        "the state declares blue 100%; the endpoint serves blue 50% · green 50%"
    )
    adopt, archive = orphan["fixes"]
    assert adopt.startswith("adopt it by digest") and "declare data pipeline-features" in adopt

    # The fixes it names bring the stack back: refresh then up restores the archived
    # version; restarting the router makes up put the declared split back (same keys);
    # archiving the orphan is what its second fix does.
    assert archived["fixes"][0].startswith(f"`pulumi refresh -s {cli.stack}`, then `pulumi up")
    keys = cli.run("stack", "output", "endpoints", "--show-secrets", "--json").stdout
    cli.run("refresh", "--yes")
    assert "kill $(cat " in traffic["fixes"][0]
    os.kill(int((table.parent / "router.pid").read_text()), signal.SIGTERM)
    cli.run("up", "--yes")
    assert not ws.data.get("digits-val", "1").archived
    assert Routes.load(table).traffic == {"blue": 100, "green": 0}
    assert cli.run("stack", "output", "endpoints", "--show-secrets", "--json").stdout == keys
    command = f"mlstack data archive pipeline-features:{number} -s {cli.stack}"
    assert command in archive
    subprocess.run([str(ROOT / ".venv/bin/mlstack"), *command.split()[1:]], cwd=cli.cwd,
                   env=cli.env, check=True, capture_output=True, timeout=300)  # fmt: skip
    assert ws.data.get("pipeline-features", number).archived
    assert drift(cli) == (0, {"stack": cli.stack, "target": "local", "drift": False,
                              "findings": []})  # fmt: skip


def _attach_config(ws: WorkspaceRef) -> str:
    return (
        "config:\n  mlstack:target: azure\n  mlstack:azure:\n    mode: attach\n"
        f"    subscriptionId: {ws.subscription_id}\n    resourceGroup: {ws.resource_group}\n"
        f"    workspaceName: {ws.name}\n    datastoreName: {ws.datastore}\n"
        f"    blobEndpoint: {ws.blob.url}\n"
    )


def test_an_orphan_on_an_attached_azure_workspace(  # noqa: PLR0917 - fixtures
    tmp_path: Path, project: Project, azurite: ServiceState, azurite_home: Path,
    digits: Path, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str],
) -> None:  # fmt: skip
    ws_ref = azureml_workspace
    cli = new_stack(project.root, tmp_path / "project", azurite_home, _attach_config(ws_ref),
                    extra_env=azureml_env)  # fmt: skip
    add_data(cli, project, digits)
    for name in ("digits-train.yaml", "digits-test.yaml"):
        (cli.cwd / "assets" / "data" / name).unlink()
    try:
        cli.run("up", "--yes")
        assert drift(cli)[0] == 0
        locator = AzureLocator(
            subscription_id=ws_ref.subscription_id, resource_group=ws_ref.resource_group,
            workspace=ws_ref.name, datastore=ws_ref.datastore, blob_endpoint=ws_ref.blob.url,
        )  # fmt: skip
        number = pipeline_output(tmp_path, open_workspace(locator), "pipeline-features")
        code, report = drift(cli)
        assert (code, found(report)) == (1, [("orphan", f"data pipeline-features:{number}")])
        assert report["target"] == "azure"
        # The fix it names works on Azure too: the same command, through the protocol.
        command = f"mlstack data archive pipeline-features:{number} -s {cli.stack}"
        assert command in report["findings"][0]["fixes"][1]
        subprocess.run([str(ROOT / ".venv/bin/mlstack"), *command.split()[1:]], cwd=cli.cwd,
                       env=cli.env, check=True, capture_output=True, timeout=300)  # fmt: skip
        assert drift(cli)[0] == 0
    finally:
        cli.run("destroy", "--yes", check=False)
        cli.run("stack", "rm", "--yes", "--force", cli.stack, check=False)
