"""Contract tests of the inspection commands on an ``azure`` stack, with canned ARM replies.

The real CLI and the real backend run: the stack file is read and validated, asset
commands open the workspace with ``open_workspace`` (→ :meth:`AzureMLWorkspace.at` with
the credential it builds), the Azure-only rows build their own ``MLClient``, and
azure-ai-ml sends every request into the recording adapter of
tests/unit/workspace/test_azure_contract.py. Only the credential (no ``az login`` here)
and the transport are swapped in; the stack file's ``blobEndpoint`` points the datastore
at Azurite in place of the storage account.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.identity
import pytest
import yaml
from azure.core.credentials import AccessToken
from azure.identity import CredentialUnavailableError
from typer.testing import CliRunner

from mlstack.cli import app
from mlstack.config.azure import AzureSettings
from mlstack.content.blobstore import BlobEndpoint
from mlstack.errors import MlstackError
from mlstack.project import HOME_ENV
from mlstack.workspace import register_folder
from mlstack.workspace.azure import AzureMLWorkspace
from tests.unit.workspace.test_azure_contract import (
    CREATED,
    SETTINGS,
    WS,
    CannedArm,
    Credential,
    Reply,
    created,
    data_version,
    datastore,
    folder,
    keys,
    route_clients,
)

STACK = "azdev"
DIGEST_A, DIGEST_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
URI = "azureml://datastores/mlstack/paths/LocalUpload/{}/images/"
PROPS = {"mlstack.files": "70000", "mlstack.bytes": "5000000"}


def _stack_file(settings: AzureSettings) -> str:
    azure = settings.model_dump(by_alias=True, exclude_defaults=True)
    return yaml.safe_dump({"config": {"mlstack:target": "azure", "mlstack:azure": azure}})


@pytest.fixture
def settings(endpoint: BlobEndpoint) -> AzureSettings:
    """The contract tests' workspace, its datastore account served by Azurite."""
    return AzureSettings.model_validate({**SETTINGS.model_dump(), "blob_endpoint": endpoint.url})


@pytest.fixture
def arm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: AzureSettings
) -> Iterator[CannedArm]:
    """A project whose stack ``azdev`` targets Azure; its workspace answers from ``arm``."""
    (tmp_path / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / f"Pulumi.{STACK}.yaml").write_text(_stack_file(settings))
    monkeypatch.setenv(HOME_ENV, str(tmp_path / ".mlstack"))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    canned = CannedArm()
    opened = route_clients(monkeypatch, canned)
    yield canned
    # the workspace the stack file names, as validated
    assert opened in ([], [settings.locator] * len(opened))


def run(*args: str) -> Any:
    return CliRunner().invoke(app, [*args, "-s", STACK, "--format", "json"])


def ok(*args: str) -> Any:
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output)


def _images(arm: CannedArm) -> tuple[dict[str, Any], dict[str, Any]]:
    """Data ``images`` with versions 1 (archived) and 2, as the service lists them."""
    d1 = data_version("images", "1", URI.format("a" * 64), **{"mlstack.digest": DIGEST_A}, **PROPS)
    d2 = data_version("images", "2", URI.format("b" * 64), **{"mlstack.digest": DIGEST_B}, **PROPS)
    d2["properties"] |= {"description": "second", "tags": {"split": "train"}}
    arm.table[("GET", "/data", "All")] = (
        200, {"value": [{"id": f"{WS}/data/images", "name": "images", "systemData": CREATED,
                         "properties": {"latestVersion": "2", "dataType": "uri_folder"}}]},
    )  # fmt: skip
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": [d2, d1]})
    arm.table[("GET", "/data/images/versions", "ArchivedOnly")] = (200, {"value": [d1]})
    arm.table[("GET", "/data/images/versions/2", None)] = (200, d2)
    return d1, d2


def _data_record(version: str, digest: str, archived: bool, **extra: Any) -> dict[str, Any]:
    return {"kind": "data", "name": "images", "version": version, "type": "uri_folder",
            "uri": URI.format(digest.removeprefix("sha256:")), "digest": digest,
            "files": 70000, "bytes": 5000000, "description": "", "tags": {},
            "archived": archived, "created_at": "2025-03-04T05:06:07+00:00", **extra}  # fmt: skip


def test_data_list_prints_every_version_the_service_lists(arm: CannedArm) -> None:
    _images(arm)

    assert ok("data", "list") == [
        _data_record("1", DIGEST_A, archived=True),
        _data_record("2", DIGEST_B, archived=False, description="second",
                     tags={"split": "train"}),
    ]  # fmt: skip
    calls = arm.take()
    assert keys(calls) == [
        ("GET", "/data", "All"),
        ("GET", "/data/images/versions", "All"),
        ("GET", "/data/images/versions", "ArchivedOnly"),
    ]
    assert {c.query["api-version"] for c in calls} == {"2023-04-01-preview"}


def test_data_show_resolves_the_version_from_one_listing(arm: CannedArm) -> None:
    """The name's listing (all, then archived) both finds the version and, when it is
    missing, names the versions that exist: two requests either way."""
    _images(arm)

    assert ok("data", "show", "images:2") == _data_record(
        "2", DIGEST_B, archived=False, description="second", tags={"split": "train"}
    )
    assert keys(arm.take()) == [
        ("GET", "/data/images/versions", "All"),
        ("GET", "/data/images/versions", "ArchivedOnly"),
    ]


def test_data_show_latest_skips_the_archived_version(arm: CannedArm) -> None:
    """``@latest`` is resolved from the listing (as locally): archived versions are skipped."""
    _images(arm)
    assert ok("data", "show", "images@latest")["version"] == "2"
    assert keys(arm.take()) == [
        ("GET", "/data/images/versions", "All"),
        ("GET", "/data/images/versions", "ArchivedOnly"),
    ]


def test_an_unknown_version_lists_the_versions_that_exist(arm: CannedArm) -> None:
    _images(arm)
    result = run("data", "show", "images:7")
    assert isinstance(result.exception, MlstackError)
    assert str(result.exception) == (
        "data asset images has no version '7': its versions are 1 (archived), 2"
    )


def test_model_show_prints_stage_metrics_and_the_short_uri(arm: CannedArm) -> None:
    model = {
        "id": f"{WS}/models/digits/versions/3", "name": "3", "systemData": CREATED,
        "properties": {"modelType": "mlflow_model", "flavors": {}, "stage": "Production",
                       "modelUri": "azureml://subscriptions/s/resourcegroups/r/workspaces/w/"
                                   "datastores/mlstack/paths/LocalUpload/cc/digits/",
                       "properties": {"mlstack.digest": "sha256:cc", "mlstack.files": "4",
                                      "mlstack.bytes": "1234", "mlstack.json": "metrics",
                                      "metrics": '{"accuracy": 0.97}'},
                       "description": "digits", "tags": {"team": "ml"},
                       "isArchived": False, "isAnonymous": False},
    }  # fmt: skip
    arm.table[("GET", "/models/digits/versions", "All")] = (200, {"value": [model]})
    arm.table[("GET", "/models/digits/versions", "ArchivedOnly")] = (200, {"value": []})
    arm.table[("GET", "/models/digits/versions/3", None)] = (200, model)

    shown = ok("model", "show", "digits:3")

    assert shown == {
        "kind": "model", "name": "digits", "version": "3", "type": "mlflow_model",
        "uri": "azureml://datastores/mlstack/paths/LocalUpload/cc/digits/",
        "digest": "sha256:cc", "files": 4, "bytes": 1234, "description": "digits",
        "tags": {"team": "ml"}, "archived": False, "created_at": "2025-03-04T05:06:07+00:00",
        "properties": {"metrics": {"accuracy": 0.97}}, "stage": "Production",
        "lineage": shown["lineage"],
    }  # fmt: skip
    calls = arm.take()
    assert keys(calls) == [
        ("GET", "/models/digits/versions", "All"),  # resolve: the name's versions
        ("GET", "/models/digits/versions", "ArchivedOnly"),
    ]
    assert {c.query["api-version"] for c in calls} == {"2023-08-01-preview"}


def test_env_list_prints_image_and_conda_spec(arm: CannedArm) -> None:
    env = {
        "id": f"{WS}/environments/train/versions/5", "name": "5", "systemData": CREATED,
        "properties": {"image": "python:3.11-slim", "condaFile": "name: train\n",
                       "properties": {"mlstack.digest": "sha256:ee"},
                       "isArchived": False, "isAnonymous": False},
    }  # fmt: skip
    arm.table[("GET", "/environments", "All")] = (
        200, {"value": [{"id": f"{WS}/environments/train", "name": "train",
                         "systemData": CREATED, "properties": {"latestVersion": "5"}}]},
    )  # fmt: skip
    arm.table[("GET", "/environments/train/versions", "All")] = (200, {"value": [env]})
    arm.table[("GET", "/environments/train/versions", "ArchivedOnly")] = (200, {"value": []})

    assert ok("env", "list") == [
        {"kind": "environment", "name": "train", "version": "5", "type": "environment",
         "uri": "azureml:train", "digest": "sha256:ee", "files": 0, "bytes": 0,
         "description": "", "tags": {}, "archived": False,
         "created_at": "2025-03-04T05:06:07+00:00", "stage": "",
         "properties": {"image": "python:3.11-slim", "conda": {"name": "train"}}},
    ]  # fmt: skip
    assert keys(arm.take()) == [
        ("GET", "/environments", "All"),
        ("GET", "/environments/train/versions", "All"),
        ("GET", "/environments/train/versions", "ArchivedOnly"),
    ]


def test_datastore_list_shows_every_datastore_and_the_default(
    arm: CannedArm, endpoint: BlobEndpoint
) -> None:
    ours = datastore(endpoint, "azureml-mlstack", "None")
    blobstore = json.loads(json.dumps(ours).replace("mlstack", "workspaceblobstore"))
    blobstore["properties"] |= {"containerName": "azureml-blobstore-1234", "isDefault": True}

    def listing(call: Any) -> Reply:
        default = call.query.get("isDefault") == "true"
        return 200, {"value": [blobstore] if default else [ours, blobstore]}

    arm.table[("GET", "/datastores", None)] = listing

    assert ok("datastore", "list") == [
        {"name": "mlstack", "type": "azure_blob", "account": endpoint.account,
         "container": "azureml-mlstack", "default": False,
         "url": f"https://{endpoint.account}.blob.core.windows.net/azureml-mlstack"},
        {"name": "workspaceblobstore", "type": "azure_blob", "account": endpoint.account,
         "container": "azureml-blobstore-1234", "default": True,
         "url": f"https://{endpoint.account}.blob.core.windows.net/azureml-blobstore-1234"},
    ]  # fmt: skip
    calls = arm.take()
    assert [(c.method, c.path, c.query.get("isDefault")) for c in calls] == [
        ("GET", "/datastores", "true"),
        ("GET", "/datastores", None),
    ]  # no listSecrets: nothing secret is read to list them


def test_compute_list_shows_clusters_and_instances(arm: CannedArm) -> None:
    arm.table[("GET", "/computes", None)] = (200, {"value": [
        {"id": f"{WS}/computes/cpu-cluster", "name": "cpu-cluster", "location": "westeurope",
         "properties": {"computeType": "AmlCompute", "provisioningState": "Succeeded",
                        "properties": {"vmSize": "STANDARD_DS3_V2", "vmPriority": "Dedicated",
                                       "scaleSettings": {"minNodeCount": 0,
                                                         "maxNodeCount": 4}}}},
        {"id": f"{WS}/computes/ci-alice", "name": "ci-alice", "location": "westeurope",
         "properties": {"computeType": "ComputeInstance", "provisioningState": "Succeeded",
                        "properties": {"vmSize": "STANDARD_DS11_V2", "state": "Stopped"}}},
    ]})  # fmt: skip

    assert ok("compute", "list") == [
        {"name": "ci-alice", "type": "computeinstance", "size": "STANDARD_DS11_V2",
         "min_instances": None, "max_instances": None, "state": "Stopped",
         "cores": None, "memory_bytes": None, "accelerators": []},
        {"name": "cpu-cluster", "type": "amlcompute", "size": "STANDARD_DS3_V2",
         "min_instances": 0, "max_instances": 4, "state": "Succeeded",
         "cores": None, "memory_bytes": None, "accelerators": []},
    ]  # fmt: skip
    assert keys(arm.take()) == [("GET", "/computes", None)]
    table = CliRunner().invoke(app, ["compute", "list", "-s", STACK]).output
    assert "cpu-cluster" in table and max(len(line) for line in table.splitlines()) <= 80


def test_data_download_reads_the_manifest_from_the_datastore(
    arm: CannedArm, endpoint: BlobEndpoint, settings: AzureSettings, tmp_path: Path
) -> None:
    """Content commands reach the datastore (Azurite here) through the same workspace."""
    files = {"a.txt": b"alpha\n", "sub/b.txt": b"bravo\n"}
    m = folder(tmp_path / "src", files)
    with endpoint.client() as service:
        service.create_container("azureml-mlstack")
    arm.table[("GET", "/datastores/mlstack", None)] = (
        200, datastore(endpoint, "azureml-mlstack", "AccountKey"),
    )  # fmt: skip
    arm.table[("POST", "/datastores/mlstack/listSecrets", None)] = (
        200, {"secretsType": "AccountKey", "key": endpoint.key},
    )  # fmt: skip
    arm.table[("GET", "/data/shots/versions", "All")] = (200, {"value": []})
    arm.table[("PUT", "/data/shots/versions/1", None)] = created
    ws = AzureMLWorkspace.at(settings.locator, Credential())
    register_folder(ws, "data", "shots", tmp_path / "src", m, type_="uri_folder")
    put = arm.take()[-1]
    arm.table[("GET", "/data/shots/versions/1", None)] = created(put)
    arm.table[("GET", "/data/shots/versions", "All")] = (200, {"value": [created(put)[1]]})
    arm.table[("GET", "/data/shots/versions", "ArchivedOnly")] = (200, {"value": []})

    out = ok("data", "download", "shots:1", str(tmp_path / "dest"), "--no-progress")

    assert (out["files"], out["digest"]) == (2, m.digest)
    for rel, data in files.items():
        assert (tmp_path / "dest" / rel).read_bytes() == data
    assert keys(arm.take()) == [
        ("GET", "/data/shots/versions", "All"),  # resolve
        ("GET", "/data/shots/versions", "ArchivedOnly"),
        ("GET", "/data/shots/versions/1", None),  # the manifest's digest check
        ("GET", "/data/shots/versions", "ArchivedOnly"),
        ("GET", "/datastores/mlstack", None),
        ("POST", "/datastores/mlstack/listSecrets", None),
    ]
    with endpoint.client() as service:
        service.delete_container("azureml-mlstack")


@pytest.mark.parametrize(
    ("command", "where"),
    [
        ("data", "Azure ML workspace 'mlstack-test' (resource group 'mlstack-test')"),
        ("datastore", f"stack {STACK!r}"),  # an Azure-only row, through its own client
    ],
)
def test_a_failed_sign_in_is_one_line_naming_az_login(
    arm: CannedArm, monkeypatch: pytest.MonkeyPatch, command: str, where: str
) -> None:
    class SignedOut:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            raise CredentialUnavailableError(
                "DefaultAzureCredential failed to retrieve a token.\nAttempted credentials:\n\t…"
            )

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", SignedOut)

    result = run(command, "list")

    assert result.exit_code != 0 and isinstance(result.exception, MlstackError)
    assert str(result.exception) == (
        f"cannot sign in to Azure for {where}: run `az login` (or set AZURE_CLIENT_ID, "
        "AZURE_TENANT_ID and AZURE_CLIENT_SECRET) and try again"
    )
    assert arm.calls == []  # refused before the request left


def test_every_config_problem_is_reported_at_once(arm: CannedArm) -> None:
    Path(f"stacks/Pulumi.{STACK}.yaml").write_text(
        "config:\n  mlstack:target: azure\n  mlstack:azure:\n    subscriptionId: nope\n"
        "    location: West Europe\n"
    )
    result = run("data", "list")
    assert isinstance(result.exception, MlstackError)
    message = str(result.exception)
    assert message.startswith("7 problems in the configuration:")
    for key in ("subscriptionId", "location", "resourceGroup", "workspaceName", "keyVault"):
        assert f"mlstack:azure.{key}" in message
    assert arm.calls == []


def test_workspace_show_names_the_workspace_without_a_request(arm: CannedArm) -> None:
    shown = ok("workspace", "show")
    assert {k: shown[k] for k in ("stack", "target", "name", "resource_group", "datastore")} == {
        "stack": STACK, "target": "azure", "name": "mlstack-test",
        "resource_group": "mlstack-test", "datastore": "mlstack",
    }  # fmt: skip
    assert shown["id"] == WS
    table = CliRunner().invoke(app, ["workspace", "show", "-s", STACK]).output
    assert "target azure" in table and max(len(line) for line in table.splitlines()) <= 80
    assert arm.calls == []
