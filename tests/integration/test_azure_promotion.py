"""Promotion workspace → workspace between two attach-mode azure stacks, with the real engine.

dev and prod are Azure ML workspaces of the loopback service in two subscriptions, whose
datastores are in two storage accounts of the session's Azurite: prod's ``pulumi up``
copies the promoted version from dev's account into its own with Copy Blob from URL, signed
with a short-lived SAS, so the copy really crosses accounts and no byte goes through this
machine. The same checks as between local stacks hold: the pin is the diff, the preview
names it, lineage reaches dev's data, a rollback is promoting the older version again,
tampering and archiving are refused.
"""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from mlstack.config.locator import AzureLocator
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.project import Project
from mlstack.services.azurite import ServiceState
from mlstack.workspace import Workspace, open_workspace
from mlstack.workspace.asset import upload_prefix
from tests.integration.conftest import Pulumi, new_stack

if TYPE_CHECKING:
    from tests.support.azureml import AzureMLService, WorkspaceRef

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTEFACT = ROOT / "tests" / "fixtures" / "state-v0" / "artefact"
MODEL = "digits-cnn"
DATA = "tiny"
DATA_YAML = "name: tiny\ntype: uri_folder\npath: ../../data/tiny\ndescription: a small split\n"
PROD_SUBSCRIPTION = "99999999-8888-7777-6666-555555555555"


def _attach_config(ws: WorkspaceRef, extra: str = "") -> str:
    return (
        f"config:\n  mlstack:target: azure\n{extra}  mlstack:azure:\n    mode: attach\n"
        f"    subscriptionId: {ws.subscription_id}\n    resourceGroup: {ws.resource_group}\n"
        f"    workspaceName: {ws.name}\n    datastoreName: {ws.datastore}\n"
        f"    blobEndpoint: {ws.blob.url}\n"
    )


def _locator(ws: WorkspaceRef) -> AzureLocator:
    return AzureLocator(
        subscription_id=ws.subscription_id, resource_group=ws.resource_group, workspace=ws.name,
        datastore=ws.datastore, blob_endpoint=ws.blob.url,
    )  # fmt: skip


def _mlstack(cli: Pulumi, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/mlstack"), *args], cwd=cli.cwd, env=cli.env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _blobs(endpoint: BlobEndpoint, container: str, prefix: str) -> dict[str, bytes]:
    client = endpoint.client().get_container_client(container)
    return {b.name: client.download_blob(b.name).readall()
            for b in client.list_blobs(name_starts_with=f"{prefix}/")}  # fmt: skip


def _resource(cli: Pulumi, name: str) -> dict[str, Any]:
    state = json.loads(cli.run("stack", "export", "--stack", cli.stack).stdout)
    [found] = [r for r in state["deployment"]["resources"] if r["urn"].endswith(f"::{name}")]
    return dict(found)


def _dev_project(cli: Pulumi, project: Project) -> str:
    """dev's assets: one small data asset and the model, trained "on" it; its digest."""
    data = cli.cwd / "data" / DATA
    for index in range(3):
        (data / f"{index}").mkdir(parents=True)
        (data / f"{index}" / "sample.txt").write_text(f"sample {index}\n" * 50)
    digest = scan(data, NoCache()).digest
    (cli.cwd / "assets" / "data").mkdir(parents=True)
    (cli.cwd / "assets" / "data" / f"{DATA}.yaml").write_text(DATA_YAML)
    shutil.copytree(project.root / "assets" / "models", cli.cwd / "assets" / "models")
    artefact = cli.cwd / "outputs" / MODEL
    shutil.copytree(ARTEFACT, artefact)
    lineage = {"data": [{"role": "train", "name": DATA, "version": "1", "digest": digest}],
               "code": {"revision": "fixture"}, "parameters": {"epochs": 1}}  # fmt: skip
    (artefact / "lineage.json").write_text(json.dumps(lineage))
    return digest


def test_promote_between_two_azure_workspaces_copies_across_accounts(  # noqa: PLR0917
    tmp_path: Path, project: Project, azurite: ServiceState, azurite_home: Path,
    azureml_service: AzureMLService, azureml_env: dict[str, str], second_account: BlobEndpoint,
) -> None:  # fmt: skip
    suffix = uuid.uuid4().hex[:8]
    dev_ws = azureml_service.add_workspace(
        "11111111-2222-3333-4444-555555555555", f"rg-dev-{suffix}", f"mlw-dev-{suffix}",
        blob=azurite.endpoint, datastore="mlstack",
    )  # fmt: skip
    prod_ws = azureml_service.add_workspace(
        PROD_SUBSCRIPTION, f"rg-prod-{suffix}", f"mlw-prod-{suffix}", blob=second_account,
        datastore="mlstack",
    )  # fmt: skip
    assert dev_ws.blob.account != prod_ws.blob.account

    dev = new_stack(project.root, tmp_path / "project", azurite_home, _attach_config(dev_ws),
                    extra_env=azureml_env)  # fmt: skip
    prod = replace(dev, stack=f"{dev.stack}-prod")
    prod_file = dev.cwd / "stacks" / f"Pulumi.{prod.stack}.yaml"
    prod_file.write_text(_attach_config(prod_ws, "  mlstack:modelSource: promotion\n"))
    prod.run("stack", "init", prod.stack)
    data_digest = _dev_project(dev, project)
    try:
        dev.run("up", "--yes")
        source: Workspace = open_workspace(_locator(dev_ws))
        found = source.models.get(MODEL, "1")
        assert dev.outputs()["data"][DATA]["digest"] == data_digest

        # The promotion checks the version in dev's workspace and pins it: the stack file's
        # diff is the pin alone.
        before = prod_file.read_text()
        promoted = _mlstack(dev, "promote", MODEL, "--from", dev.stack, "--to", prod.stack)
        assert promoted.returncode == 0, promoted.stderr
        assert f"+        digest: {found.digest}" in promoted.stdout
        pin = {"from": dev.stack, "version": "1", "digest": found.digest}
        expected = yaml.safe_load(before)
        expected["config"]["mlstack:promotions"] = {"models": {MODEL: pin}}
        assert yaml.safe_load(prod_file.read_text()) == expected
        changes = [line for line in difflib.ndiff(before.splitlines(), prod_file.read_text()
                   .splitlines()) if line[:2] in ("- ", "+ ")]  # fmt: skip
        assert [line[0] + line[2:].split(":")[0].strip() for line in changes] == [
            "+mlstack", "+models", f"+{MODEL}", "+from", "+version", "+digest",
        ]  # fmt: skip

        # The preview names the promotion; up copies account → account and registers.
        [step] = [s for s in prod.preview_steps() if s["urn"].endswith(f"::model-{MODEL}")]
        assert step["op"] == "create"
        assert f"(promoted from {dev.stack}:1)" in step["newState"]["inputs"]["metrics_change"]
        prod.run("up", "--yes")
        assert prod.outputs()["models"][MODEL]["digest"] == found.digest
        target = open_workspace(_locator(prod_ws))
        copied = target.models.get(MODEL, "1")
        promotion = copied.properties["promotion"]
        assert promotion["source_workspace"] == dev_ws.id
        assert dev_ws.id == (
            f"/subscriptions/{dev_ws.subscription_id}/resourceGroups/{dev_ws.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{dev_ws.name}"
        )
        assert (promotion["source_version"], promotion["digest"]) == ("1", found.digest)
        assert promotion["source_account"] == dev_ws.blob.account
        assert copied.properties["metrics"] == found.properties["metrics"]

        transfer = _resource(prod, f"model-{MODEL}")["outputs"]["transfer"]
        assert (transfer["sent_bytes"], transfer["uploaded_files"]) == (0, 0), transfer
        assert transfer["copied_files"] == found.files > 0, transfer
        prefix = upload_prefix(found.digest, MODEL)
        in_prod = _blobs(second_account, prod_ws.container, prefix)
        in_dev = _blobs(azurite.endpoint, dev_ws.container, prefix)
        assert len(in_prod) == found.files and in_prod == in_dev
        state = prod.run("stack", "export", "--stack", prod.stack).stdout
        assert "sig=" not in state and "sig%3D" not in state  # no SAS in the state

        # Lineage on prod reaches back through dev's version to dev's data.
        lineage = json.loads(_mlstack(prod, "lineage", MODEL, "-s", prod.stack,
                                      "--format", "json").stdout)  # fmt: skip
        assert lineage["promotion"]["source_stack"] == dev.stack
        assert lineage["promotion"]["source_workspace"] == dev_ws.id
        assert [(d["name"], d["version"], d["digest"]) for d in lineage["data"]] == [
            (DATA, "1", data_digest)
        ]
        table = _mlstack(prod, "lineage", MODEL, "-s", prod.stack)
        assert table.returncode == 0 and "promoted from" in table.stdout
        assert dev_ws.name in table.stdout.replace("\n", "").replace("│", "").replace(" ", "")
        prod.run("preview", "--expect-no-changes")

        # Rollback on Azure: dev registers version 2, prod takes it; promoting version 1
        # again is the same edit as reverting that pin, the preview says "rollback to
        # version 1", and up serves prod's own version 1 again with nothing registered.
        first_pin = prod_file.read_text()
        weights = dev.cwd / "outputs" / MODEL / "model.pt2"
        weights.write_bytes(weights.read_bytes() + b"\0")
        dev.run("up", "--yes")
        assert source.models.get(MODEL).version == "2"
        assert (
            _mlstack(dev, "promote", MODEL, "--from", dev.stack, "--to", prod.stack).returncode == 0
        )
        prod.run("up", "--yes")
        assert prod.outputs()["models"][MODEL]["version"] == "2"
        assert _mlstack(dev, "promote", MODEL, "--from", dev.stack, "--to", prod.stack,
                        "--version", "1").returncode == 0  # fmt: skip
        assert prod_file.read_text() == first_pin
        preview = prod.run("preview")
        assert f"model {MODEL}: rollback to version 1 (now serving 2)" in preview.stdout
        prod.run("up", "--yes")
        assert prod.outputs()["models"][MODEL]["version"] == "1"
        assert [v.version for v in target.models.list(MODEL)] == ["1", "2"]
        prod.run("preview", "--expect-no-changes")

        # An edited pin fails the preview, naming the key; nothing changes.
        pinned = prod_file.read_text()
        prod_file.write_text(pinned.replace(found.digest, data_digest))
        edited = prod.run("preview", check=False)
        assert edited.returncode != 0
        said = edited.stdout + edited.stderr
        assert f"mlstack:promotions.models.{MODEL}" in said and "the promotion pins" in said
        prod_file.write_text(pinned)
        prod.run("preview", "--expect-no-changes")

        # A blob of dev's version changed behind mlstack's back: refused, nothing pinned.
        blob = next(name for name in in_dev if name.endswith("metrics.json"))
        dev_container = azurite.endpoint.client().get_container_client(dev_ws.container)
        dev_container.upload_blob(blob, b'{"test": {"accuracy": 0.99}}', overwrite=True)
        tampered = _mlstack(dev, "promote", MODEL, "--from", dev.stack, "--to", prod.stack,
                            "--version", "1")  # fmt: skip
        assert tampered.returncode == 1 and "Traceback" not in tampered.stderr
        assert f"the datastore does not hold the content its digest {found.digest}" in (
            tampered.stderr
        )
        assert prod_file.read_text() == pinned

        # An archived version is refused, with the command that restores it.
        source.models.set_archived(MODEL, "1", True)
        archived = _mlstack(dev, "promote", MODEL, "--from", dev.stack, "--to", prod.stack,
                            "--version", "1")  # fmt: skip
        assert archived.returncode == 1, archived.stdout
        assert f"model {MODEL}:1 is archived in stack {dev.stack!r}" in archived.stderr
        assert f"mlstack model restore {MODEL}:1 -s {dev.stack}" in archived.stderr
        assert prod_file.read_text() == pinned
    finally:
        for cli in (prod, dev):
            cli.run("destroy", "--yes", check=False)
            cli.run("stack", "rm", "--yes", "--force", cli.stack, check=False)
