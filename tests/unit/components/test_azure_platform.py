"""AzurePlatform under ``pulumi.runtime.set_mocks``: what ``dev`` and ``prod`` declare.

The whole azure program runs (:func:`mlstack.program.build`) on a copy of the project
(the shipped asset files, small data folders and a fixed model artefact), planning
against an empty workspace — as the first preview of a stack whose workspace does not
exist yet. A recording monitor keeps every RegisterResource request, so the tests see
what the engine would see: type, name, inputs (deserialised and raw, where secrets are
marked), ``protect`` and the URNs each resource depends on. Mock ids are recognisable
(``/mock/<Type>/<name>``), so wiring by id is asserted by value, and mlstack's own asset
resources answer with recognisable versions (``VERSIONS``), as their providers would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mlstack.components.azure_platform import BLOB_DATA_CONTRIBUTOR
from mlstack.config.azure import AzureSettings
from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.config.stack import StackConfig
from mlstack.program import build
from mlstack.project import HOME_ENV, Project
from mlstack.workspace import EmptyWorkspace, Workspace, open_workspace
from tests.support.pulumi_mocks import (
    DYNAMIC,
    SECRET_SIG,
    SIG_KEY,
    STORAGE_KEY,
    Declared,
    Recorder,
    RecordingMonitor,
    project_copy,
)

ROOT = Path(__file__).resolve().parents[3]
VERSIONS = {"DataAsset": "3", "ModelVersion": "7", "EnvironmentVersion": "4"}
"""What each kind of mlstack asset resource answers as its registered version."""
ML = "azure-native:machinelearningservices:"
GOOD = {
    "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "resourceGroup": "mlstack-dev",
    "location": "westeurope",
    "workspaceName": "mlstack-dev",
    "storageAccount": "mlstackdev01",
    "keyVault": "mlstack-dev-kv",
    "containerRegistry": "mlstackdev01",
}
PROD = {**GOOD, "workspaceName": "mlstack-prod", "resourceGroup": "mlstack-prod",
        "publicNetworkAccess": "Disabled", "protect": True}  # fmt: skip


pytestmark = pytest.mark.usefixtures("event_loop_for_pulumi")


@pytest.fixture(autouse=True)
def _reset_runtime() -> Iterator[None]:
    yield
    pulumi.runtime.settings.reset_options()


def declare(
    project: Project, stack: str, azure: dict[str, Any], *, extra_env: str = ""
) -> Declared:
    """Run the program for an azure stack with ``azure`` settings, recording what it
    declares; ``extra_env`` is the YAML of one more environment spec."""
    mocks = Recorder(versions=VERSIONS)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="mlstack", stack=stack, preview=False,
                             monitor=monitor)  # fmt: skip
    settings = AzureSettings.from_config(stack, {"azure": azure})
    config = StackConfig(stack=stack, target="azure", tags={"env": stack}, azure=settings)
    opened: list[LocalLocator | AzureLocator] = []

    def empty(locator: LocalLocator | AzureLocator, project: Project) -> Workspace:
        """The stack's workspace before it is created (opening it sends no request)."""
        opened.append(locator)
        return EmptyWorkspace(open_workspace(locator, project), locator.describe())

    extra = project.root / "assets" / "environments" / "extra-env.yaml"
    if extra_env:
        extra.write_text(extra_env)

    @pulumi.runtime.test  # type: ignore[misc]
    def run() -> None:
        build(config, project, opener=empty)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(HOME_ENV, str(project.root / ".home"))
            run()
    finally:
        extra.unlink(missing_ok=True)
    assert opened == [settings.locator]
    return Declared(monitor.registered, mocks.calls)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return project_copy(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def dev(project: Project) -> Declared:
    return declare(project, "dev", GOOD)


@pytest.fixture(scope="module")
def prod(project: Project) -> Declared:
    return declare(project, "prod", PROD)


EXPECTED = [
    "mlstack:azure:Platform",
    "azure-native:resources:ResourceGroup",
    "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer",
    "azure-native:keyvault:Vault",
    "azure-native:operationalinsights:Workspace",
    "azure-native:applicationinsights:Component",
    "azure-native:containerregistry:Registry",
    f"{ML}Workspace",
    f"{ML}Datastore",
    f"{ML}Compute",
    f"{ML}CodeVersion",
    f"{ML}OnlineEndpoint",
    f"{ML}OnlineDeployment",
    f"{ML}BatchEndpoint",
    f"{ML}BatchDeployment",
    "azure-native:authorization:RoleAssignment",
    "pulumi-python:dynamic:Resource",  # the endpoint's traffic step
    f"{DYNAMIC}DataAsset",
    f"{DYNAMIC}EnvironmentVersion",
    f"{DYNAMIC}ModelVersion",
    f"{DYNAMIC}ComponentVersion",
]


@pytest.mark.parametrize("which", ["dev", "prod"])
def test_every_expected_resource_type_is_declared(
    which: str, request: pytest.FixtureRequest
) -> None:
    declared: Declared = request.getfixturevalue(which)
    types = {r.type for r in declared.resources}
    assert set(EXPECTED) <= types
    assert types - set(EXPECTED) == {"azure-native:storage:Blob"}  # the scoring code files


def test_names_and_key_properties(dev: Declared) -> None:
    assert dev.one("azure-native:resources:ResourceGroup").inputs == {
        "resourceGroupName": "mlstack-dev", "location": "westeurope",
        "tags": {"mlstack-stack": "dev", "env": "dev"},
    }  # fmt: skip
    sa = dev.one("azure-native:storage:StorageAccount").inputs
    assert (sa["accountName"], sa["kind"], sa["sku"]) == ("mlstackdev01", "StorageV2",
                                                          {"name": "Standard_LRS"})  # fmt: skip
    assert sa["minimumTlsVersion"] == "TLS1_2"
    assert sa["allowBlobPublicAccess"] is False
    assert sa["resourceGroupName"] == "mlstack-dev"
    container = dev.one("azure-native:storage:BlobContainer").inputs
    assert (container["containerName"], container["publicAccess"]) == ("mlstack-dev", "None")
    vault = dev.one("azure-native:keyvault:Vault").inputs
    assert vault["vaultName"] == "mlstack-dev-kv"
    assert vault["properties"]["enableRbacAuthorization"] is True
    assert vault["properties"]["tenantId"] == "mock-tenant"
    assert "enablePurgeProtection" not in vault["properties"]
    insights = dev.one("azure-native:applicationinsights:Component").inputs
    assert insights["workspaceResourceId"] == "/mock/Workspace/platform-logs"
    assert insights["ingestionMode"] == "LogAnalytics"
    acr = dev.one("azure-native:containerregistry:Registry").inputs
    assert (acr["registryName"], acr["adminUserEnabled"]) == ("mlstackdev01", False)


def test_workspace_is_wired_to_storage_vault_insights_and_registry(dev: Declared) -> None:
    ws = dev.one(f"{ML}Workspace")
    assert ws.inputs["workspaceName"] == "mlstack-dev"
    assert ws.inputs["identity"] == {"type": "SystemAssigned"}
    assert ws.inputs["storageAccount"] == "/mock/StorageAccount/platform-storage"
    assert ws.inputs["keyVault"] == "/mock/Vault/platform-keyvault"
    assert ws.inputs["applicationInsights"] == "/mock/Component/platform-insights"
    assert ws.inputs["containerRegistry"] == "/mock/Registry/platform-registry"
    assert ws.inputs["publicNetworkAccess"] == "Enabled"
    wired = {dev.named(n).urn for n in ("platform-storage", "platform-keyvault",
                                        "platform-insights", "platform-registry")}  # fmt: skip
    assert wired <= ws.depends_on


def test_datastore_is_identity_based_by_default(dev: Declared) -> None:
    ds = dev.one(f"{ML}Datastore").inputs
    assert ds["name"] == "mlstack"
    assert ds["workspaceName"] == "mlstack-dev"
    props = ds["properties"]
    assert props["datastoreType"] == "AzureBlob"
    assert (props["accountName"], props["containerName"]) == ("mlstackdev01", "mlstack-dev")
    assert props["credentials"] == {"credentialsType": "None"}
    assert props["serviceDataAccessAuthIdentity"] == "WorkspaceSystemAssignedIdentity"
    assert "azure-native:storage:listStorageAccountKeys" not in dev.calls


def test_the_deployer_may_write_blobs_to_an_identity_based_datastore(dev: Declared) -> None:
    """mlstack's providers upload asset content as whoever runs `pulumi up`."""
    access = dev.one("azure-native:authorization:RoleAssignment")
    assert access.inputs["principalId"] == "deployer-object-id"  # the signed-in client's object id
    assert access.inputs["roleDefinitionId"] == (
        f"/subscriptions/{GOOD['subscriptionId']}/providers/Microsoft.Authorization"
        f"/roleDefinitions/{BLOB_DATA_CONTRIBUTOR}"
    )
    assert access.inputs["scope"] == "/mock/StorageAccount/platform-storage"


def _without_provider(raw: dict[str, Any]) -> dict[str, Any]:
    """Inputs but the pickled provider of a dynamic resource (always a secret)."""
    return {k: v for k, v in raw.items() if k != "__provider"}


def test_account_key_is_a_secret_when_configured(project: Project) -> None:
    declared = declare(project, "dev", {**GOOD, "datastoreAuth": "accountKey"})
    ds = declared.one(f"{ML}Datastore")
    raw_key = ds.raw["properties"]["credentials"]["secrets"]["key"]
    assert raw_key == {SIG_KEY: SECRET_SIG, "value": STORAGE_KEY}
    assert ds.inputs["properties"]["credentials"]["credentialsType"] == "AccountKey"
    secret_fields = [
        r.name for r in declared.resources if SECRET_SIG in str(_without_provider(r.raw))
    ]
    assert secret_fields == ["platform-datastore"]  # only the datastore carries a secret
    assert declared.of("azure-native:authorization:RoleAssignment") == []  # the key writes


def test_compute_cluster_scales_to_zero(dev: Declared) -> None:
    compute = dev.one(f"{ML}Compute").inputs
    assert compute["computeName"] == "cpu-cluster"
    assert compute["workspaceName"] == "mlstack-dev"
    props = compute["properties"]
    assert props["computeType"] == "AmlCompute"
    assert props["properties"]["vmSize"] == "Standard_DS3_v2"
    assert props["properties"]["vmPriority"] == "Dedicated"
    assert props["properties"]["scaleSettings"] == {
        "minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT120S",
    }  # fmt: skip


def test_an_environment_is_mlstacks_environment_version_in_the_workspace(dev: Declared) -> None:
    """Unpinned (as shipped): its provider registers the next version by content."""
    assert dev.of(f"{ML}EnvironmentVersion") == []
    env = dev.named("env-digits-env").inputs
    assert (env["name"], env["version_pin"]) == ("digits-env", "")
    assert env["image"].startswith("mcr.microsoft.com/azureml/")
    assert "torch" in str(env["conda"])
    assert env["workspace"] == {
        "target": "azure", "subscription_id": GOOD["subscriptionId"],
        "resource_group": "mlstack-dev", "workspace": "mlstack-dev", "datastore": "mlstack",
        "blob_endpoint": "",
    }  # fmt: skip


PINNED_ENV = """\
name: pinned-env
image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
conda_file: digits-env.conda.yaml
version: 2
"""


def test_a_pinned_environment_is_registered_at_its_version(project: Project) -> None:
    declared = declare(project, "dev", GOOD, extra_env=PINNED_ENV)
    assert declared.of(f"{ML}EnvironmentVersion") == []
    env = declared.named("env-pinned-env").inputs
    assert (env["name"], env["version_pin"]) == ("pinned-env", "2")


def test_endpoint_then_deployment_then_traffic(dev: Declared) -> None:
    endpoint = dev.one(f"{ML}OnlineEndpoint")
    assert endpoint.inputs["endpointName"] == "digits"
    assert endpoint.inputs["properties"]["authMode"] == "Key"
    assert "traffic" not in endpoint.inputs["properties"]
    deployment = dev.one(f"{ML}OnlineDeployment")
    assert deployment.inputs["deploymentName"] == "blue"
    assert deployment.inputs["endpointName"] == "digits"
    assert endpoint.urn in deployment.depends_on
    props = deployment.inputs["properties"]
    assert props["instanceType"] == "Standard_DS3_v2"
    assert deployment.inputs["sku"]["capacity"] == 1
    ws_id = "/mock/MLWorkspace/platform-workspace"
    # the versions the stack's resources registered, not the YAML's (digits-cnn:1)
    assert props["model"] == f"{ws_id}/models/digits-cnn/versions/7"
    assert props["environmentId"] == f"{ws_id}/environments/digits-env/versions/4"
    assert dev.named("model-digits-cnn").urn in deployment.depends_on
    assert dev.named("env-digits-env").urn in deployment.depends_on
    code = dev.one(f"{ML}CodeVersion")
    assert props["codeConfiguration"] == {"codeId": f"/mock/CodeVersion/{code.name}",
                                          "scoringScript": "score.py"}  # fmt: skip
    assert code.inputs["properties"]["codeUri"].startswith(
        "https://mlstackdev01.blob.core.windows.net/mlstack-dev/code/"
    )
    blobs = {b.inputs["blobName"].rsplit("/", 1)[-1] for b in dev.of("azure-native:storage:Blob")}
    assert "score.py" in blobs
    traffic = dev.one("pulumi-python:dynamic:Resource")
    assert traffic.inputs["traffic"] == {"blue": 100}
    assert traffic.inputs["endpoint"] == "digits"
    assert {endpoint.urn, deployment.urn} <= traffic.depends_on


def test_dev_is_unprotected_and_public(dev: Declared) -> None:
    assert [r.name for r in dev.resources if r.protect] == []
    assert dev.one(f"{ML}Workspace").inputs["publicNetworkAccess"] == "Enabled"


def test_prod_protects_workspace_storage_and_vault_and_is_private(prod: Declared) -> None:
    protected = {r.type for r in prod.resources if r.protect}
    assert protected == {
        f"{ML}Workspace",
        "azure-native:storage:StorageAccount",
        "azure-native:keyvault:Vault",
    }
    assert prod.one(f"{ML}Workspace").inputs["publicNetworkAccess"] == "Disabled"
    assert prod.one(f"{ML}OnlineEndpoint").inputs["properties"]["publicNetworkAccess"] == "Disabled"
    assert prod.one("azure-native:keyvault:Vault").inputs["properties"]["enablePurgeProtection"]
    assert prod.one(f"{ML}Workspace").inputs["workspaceName"] == "mlstack-prod"


# -- the container registry's key, and the Azure ML registry ----------------------------------


def test_the_old_registry_key_declares_the_identical_container_registry(project: Project) -> None:
    """Renaming `registry` to `containerRegistry` in a stack file replaces nothing."""
    legacy = {**{k: v for k, v in GOOD.items() if k != "containerRegistry"},
              "registry": GOOD["containerRegistry"]}  # fmt: skip
    old = declare(project, "dev", legacy).one("azure-native:containerregistry:Registry")
    new = declare(project, "dev", GOOD).one("azure-native:containerregistry:Registry")
    assert (old.name, old.type, old.raw, old.protect) == (new.name, new.type, new.raw, new.protect)
    assert old.name == "platform-registry" and old.inputs["registryName"] == "mlstackdev01"


SHARED = {"name": "mlstack-shared", "create": True, "replicationLocations": ["northeurope"]}


def test_the_stack_that_creates_the_ml_registry_declares_and_protects_it(
    project: Project,
) -> None:
    declared = declare(project, "prod", {**PROD, "mlRegistry": SHARED})
    registry = declared.one(f"{ML}Registry")
    assert registry.name == "platform-ml-registry" and registry.protect
    inputs = registry.inputs
    assert (inputs["registryName"], inputs["resourceGroupName"]) == ("mlstack-shared",
                                                                     "mlstack-prod")  # fmt: skip
    assert (inputs["location"], inputs["publicNetworkAccess"]) == ("westeurope", "Disabled")
    assert inputs["identity"] == {"type": "SystemAssigned"}
    assert [r["location"] for r in inputs["regionDetails"]] == ["westeurope", "northeurope"]
    for region in inputs["regionDetails"]:
        assert region["acrDetails"] == [{"systemCreatedAcrAccount": {"acrAccountSku": "Premium"}}]
        storage = region["storageAccountDetails"][0]["systemCreatedStorageAccount"]
        assert storage["allowBlobPublicAccess"] is False
    assert inputs["tags"] == {"mlstack-stack": "prod", "env": "prod"}
    # still exactly one container registry, the workspace's
    assert declared.one("azure-native:containerregistry:Registry").inputs["registryName"] == (
        "mlstackdev01"
    )


def test_an_unprotected_stack_leaves_its_ml_registry_unprotected(project: Project) -> None:
    block = {**SHARED, "location": "swedencentral", "replicationLocations": []}
    registry = declare(project, "dev", {**GOOD, "mlRegistry": block}).one(f"{ML}Registry")
    assert not registry.protect
    assert registry.inputs["location"] == "swedencentral"
    assert [r["location"] for r in registry.inputs["regionDetails"]] == ["swedencentral"]


def test_a_stack_that_only_names_the_ml_registry_declares_none(project: Project) -> None:
    declared = declare(project, "dev", {**GOOD, "mlRegistry": {"name": "mlstack-shared"}})
    assert declared.of(f"{ML}Registry") == []
