"""A promotion into a create-mode azure stack: the whole program under Pulumi mocks.

prod declares its own workspace, storage and datastore (azure-native, mocked); dev is a
workspace of the loopback Azure ML service holding the pinned version, read by the program
at preview as a real ``pulumi preview -s prod`` would. The promoted model is declared like
any asset resource of prod — after prod's workspace, datastore and write access — naming
dev's workspace as its source, and prod's deployment serves it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest

from mlstack.config.locator import AzureLocator
from mlstack.config.stack import load_stack_config
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.program import build
from mlstack.project import HOME_ENV, Project
from mlstack.workspace import open_workspace, register_folder
from tests.support.azureml import WorkspaceRef
from tests.support.pulumi_mocks import (
    DYNAMIC,
    Absent,
    Recorder,
    RecordingMonitor,
    Registered,
    project_copy,
)

ML = "azure-native:machinelearningservices:"
PROD = {
    "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "resourceGroup": "mlstack-prod",
    "location": "westeurope",
    "workspaceName": "mlstack-prod",
    "storageAccount": "mlstackprod01",
    "keyVault": "mlstack-prod-kv",
    "registry": "mlstackprod01",
}

pytestmark = pytest.mark.usefixtures("event_loop_for_pulumi")


@pytest.fixture(autouse=True)
def _reset_runtime() -> Iterator[None]:
    yield
    pulumi.runtime.settings.reset_options()


DEV_CREATED = (  # the keys a create-mode dev adds: its account is named in its config
    "    location: westeurope\n    storageAccount: mlstackdev01\n    keyVault: mlstack-dev-kv\n"
    "    registry: mlstackdev01\n"
)


def _dev(
    project: Project, ws: WorkspaceRef, tmp_path: Path, mode: str = "attach"
) -> tuple[str, AzureLocator, str]:
    """A dev stack on ``ws`` with model version 1 above its gate."""
    stack = f"dev-{uuid.uuid4().hex[:6]}"
    (project.root / "stacks").mkdir(exist_ok=True)
    (project.root / "stacks" / f"Pulumi.{stack}.yaml").write_text(
        f"config:\n  mlstack:target: azure\n  mlstack:azure:\n    mode: {mode}\n"
        f"    subscriptionId: {ws.subscription_id}\n    resourceGroup: {ws.resource_group}\n"
        f"    workspaceName: {ws.name}\n    datastoreName: {ws.datastore}\n"
        f"    blobEndpoint: {ws.blob.url}\n" + (DEV_CREATED if mode == "create" else "")
    )
    locator = AzureLocator(
        subscription_id=ws.subscription_id, resource_group=ws.resource_group, workspace=ws.name,
        datastore=ws.datastore, blob_endpoint=ws.blob.url,
    )  # fmt: skip
    folder = tmp_path / "artefact"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"weights" * 100)
    metrics = {"test": {"accuracy": 0.97}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    done = register_folder(
        open_workspace(locator), "model", "digits-cnn", folder, scan(folder, NoCache()),
        type_="custom_model", properties={"metrics": metrics, "lineage": {"data": []}},
    )  # fmt: skip
    return stack, locator, done.version.digest


def _prod(
    project: Project, monkeypatch: pytest.MonkeyPatch, dev: str, digest: str, served: str
) -> list[Registered]:
    """What prod's program declares, under mocks, with dev's version 1 pinned."""
    monkeypatch.setenv(HOME_ENV, str(project.root / ".mlstack"))
    mocks = Recorder(versions={"model-digits-cnn": served})
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="mlstack", stack="prod", preview=False,
                             monitor=monitor)  # fmt: skip
    config = load_stack_config("prod", {
        "target": "azure", "azure": PROD, "modelSource": "promotion",
        "promotions": {"models": {"digits-cnn": {"from": dev, "version": "1", "digest": digest}}},
    })  # fmt: skip

    @pulumi.runtime.test  # type: ignore[misc]
    def run() -> None:
        build(config, project, opener=Absent)  # type: ignore[arg-type]

    run()
    return list(monitor.registered)


def test_a_create_mode_prod_declares_the_promoted_model_after_its_own_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azureml_workspace: WorkspaceRef,
    azureml_env: dict[str, str],
) -> None:  # fmt: skip
    root = tmp_path / "project"
    root.mkdir()
    project = project_copy(root)
    dev, dev_locator, digest = _dev(project, azureml_workspace, tmp_path)
    declared = _prod(project, monkeypatch, dev, digest, served="4")
    [model] = [r for r in declared if r.name == "model-digits-cnn"]
    assert model.type == f"{DYNAMIC}PromotedModel"
    assert model.inputs["source_workspace"] == dev_locator.model_dump()
    assert (model.inputs["source_stack"], model.inputs["source_version"]) == (dev, "1")
    assert model.inputs["digest"] == digest
    assert model.inputs["workspace"]["workspace"] == "mlstack-prod"
    assert "(promoted from " in model.inputs["metrics_change"]

    def one(type_: str) -> str:
        [found] = [r for r in declared if r.type == type_]
        return found.urn

    needs = {one(f"{ML}Workspace"), one(f"{ML}Datastore"),
             one("azure-native:authorization:RoleAssignment")}  # fmt: skip
    assert needs <= model.depends_on
    assert not [r for r in declared if r.type == f"{DYNAMIC}ModelVersion"]
    [deployment] = [r for r in declared if r.type == f"{ML}OnlineDeployment"]
    assert deployment.inputs["properties"]["model"].endswith("/models/digits-cnn/versions/4")
    assert model.urn in deployment.depends_on


def test_promoting_from_a_created_dev_grants_the_deployer_read_on_devs_account_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azureml_workspace: WorkspaceRef,
    azureml_env: dict[str, str],
) -> None:  # fmt: skip
    root = tmp_path / "project"
    root.mkdir()
    project = project_copy(root)
    dev, _, digest = _dev(project, azureml_workspace, tmp_path, mode="create")
    declared = _prod(project, monkeypatch, dev, digest, served="1")
    granted = {r.name: r for r in declared if f"-source-{dev}-" in r.name}
    account = (
        f"/subscriptions/{azureml_workspace.subscription_id}/resourceGroups/"
        f"{azureml_workspace.resource_group}/providers/Microsoft.Storage/storageAccounts/"
        "mlstackdev01"
    )
    roles = {name: r.inputs["roleDefinitionId"].rsplit("/", 1)[1] for name, r in granted.items()}
    assert roles == {
        f"platform-source-{dev}-blob-reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        f"platform-source-{dev}-delegator": "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
    }
    assert {r.inputs["scope"] for r in granted.values()} == {account}
    assert all(r.type == "azure-native:authorization:RoleAssignment" for r in granted.values())
    [model] = [r for r in declared if r.name == "model-digits-cnn"]
    assert {r.urn for r in granted.values()} <= model.depends_on
