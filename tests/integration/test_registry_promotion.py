"""Promotion through an Azure ML registry with the real ``pulumi`` CLI and ``mlstack``.

``dev`` and ``prod`` are attach-mode azure stacks on two workspaces of the loopback Azure
ML service, which also holds the registry prod names. ``mlstack promote --via registry``
(the real command, as a process) shares dev's model version into the registry and pins it
in prod's stack file; prod's ``pulumi preview`` / ``up`` (the real engine) re-check the pin
against the registry, declare no model resource and export the registry reference. A
tampered pin fails the preview, and nothing changes. (Prod here declares no endpoint: an
online deployment is an azure-native resource, which only Pulumi mocks can run — see
``tests/unit/program/test_azure_program.py`` for the deployment's registry URI.)
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from azure.identity import DefaultAzureCredential

from mlstack.config.azure import AzureSettings
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.project import Project
from mlstack.services.azurite import ServiceState
from mlstack.workspace.azure import AzureMLWorkspace
from mlstack.workspace.register import register_folder
from tests.integration.conftest import new_stack
from tests.support.azureml import AzureMLService, WorkspaceRef
from tests.support.fixtures import SUBSCRIPTION

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTEFACT = ROOT / "tests" / "fixtures" / "state-v0" / "artefact"


def _attach(ws: WorkspaceRef, extra: str = "") -> str:
    return (
        "config:\n  mlstack:target: azure\n  mlstack:azure:\n    mode: attach\n"
        f"    subscriptionId: {ws.subscription_id}\n    resourceGroup: {ws.resource_group}\n"
        f"    workspaceName: {ws.name}\n    datastoreName: {ws.datastore}\n"
        f"    blobEndpoint: {ws.blob.url}\n{extra}"
    )


def _register_in_dev(ws: WorkspaceRef) -> str:
    settings = AzureSettings(
        mode="attach", subscription_id=ws.subscription_id, resource_group=ws.resource_group,
        workspace_name=ws.name, datastore_name=ws.datastore,
    )  # fmt: skip
    workspace = AzureMLWorkspace.connect(settings, DefaultAzureCredential(), blob_url=ws.blob.url)
    done = register_folder(
        workspace, "model", "digits-cnn", ARTEFACT, scan(ARTEFACT, NoCache()),
        type_="custom_model", properties={"metrics": {"test": {"accuracy": 0.98}}},
    )  # fmt: skip
    return done.version.digest


def test_promote_via_registry_then_prod_previews_and_serves_the_registry_version(  # noqa: PLR0917
    tmp_path: Path, project: Project, azurite: ServiceState, azurite_home: Path,
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef,
    azureml_env: dict[str, str],
) -> None:  # fmt: skip
    suffix = uuid.uuid4().hex[:8]
    prod_ws = azureml_service.add_workspace(
        SUBSCRIPTION, f"rg-prod-{suffix}", f"ws-prod-{suffix}", blob=azurite.endpoint,
        datastore="mlstack",
    )  # fmt: skip
    registry = f"shared-{suffix}"
    azureml_service.registries.add(registry, SUBSCRIPTION, f"rg-prod-{suffix}")
    prod_file = _attach(prod_ws, f"    mlRegistry:\n      name: {registry}\n")
    prod_file = prod_file.replace("config:\n", "config:\n  mlstack:modelSource: promotion\n")
    cli = new_stack(project.root, tmp_path / "project", azurite_home, prod_file,
                    stack="prod", extra_env=azureml_env)  # fmt: skip
    (cli.cwd / "stacks" / "Pulumi.dev.yaml").write_text(_attach(azureml_workspace))
    shutil.copytree(project.root / "assets" / "models", cli.cwd / "assets" / "models")
    digest = _register_in_dev(azureml_workspace)
    stack_file = cli.cwd / "stacks" / "Pulumi.prod.yaml"
    before = stack_file.read_text()

    promoted = subprocess.run(
        [str(project.root / ".venv" / "bin" / "mlstack"), "promote", "digits-cnn",
         "--from", "dev", "--to", "prod", "--via", "registry"],
        cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    after = stack_file.read_text()
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    assert [d for d in diff if d.startswith("- ")] == []  # the pin is the whole diff
    assert [d[2:] for d in diff if d.startswith("+ ")] == [
        "  mlstack:promotions:", "    models:", "      digits-cnn:", "        from: dev",
        "        version: '1'", f"        digest: {digest}", "        via: registry",
        f"        registry: {registry}",
    ]  # fmt: skip
    (shared,) = azureml_service.registries.versions(registry, "digits-cnn")
    assert shared["properties"]["properties"]["mlstack.digest"] == digest

    steps = cli.preview_steps()
    assert not [s for s in steps if "model-digits-cnn" in s.get("urn", "")]  # no copy
    cli.run("up", "--yes")
    uri = f"azureml://registries/{registry}/models/digits-cnn/versions/1"
    assert cli.outputs()["registry_models"] == {"digits-cnn": uri}
    assert azureml_service.versions("model", prod_ws) == []  # nothing in prod's workspace

    stack_file.write_text(after.replace(digest, "sha256:" + "0" * 64))  # a tampered pin
    tampered = cli.run("preview", check=False)
    assert tampered.returncode != 0
    said = tampered.stdout + tampered.stderr
    assert "mlstack:promotions.models.digits-cnn: digest mismatch" in said
    assert cli.outputs()["registry_models"] == {"digits-cnn": uri}  # nothing changed
    cli.run("stack", "rm", "--yes", "--force", "prod", check=False)
