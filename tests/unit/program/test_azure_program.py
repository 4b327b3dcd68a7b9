"""The whole program on the ``azure`` target under ``pulumi.runtime.set_mocks``.

Not the platform component alone: the program with every shipped asset file, so the
tests see the azure-native estate *and* the asset resources together — what each asset
resource depends on, what it names as its workspace, and that a deployment serves the
version the stack's model resource registered. The workspace the program plans against
does not exist yet (a first preview), which planning must treat as empty.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mlstack.audit.graph import Serving
from mlstack.config.stack import load_stack_config
from mlstack.errors import ConfigError
from mlstack.program import build
from mlstack.project import HOME_ENV, Project
from mlstack.review.serving import serving_of
from tests.support.pulumi_mocks import (
    DYNAMIC,
    Absent,
    Declared,
    Recorder,
    RecordingMonitor,
    project_copy,
)

ML = "azure-native:machinelearningservices:"
ASSET_TYPES = {
    f"{DYNAMIC}{t}" for t in ("DataAsset", "EnvironmentVersion", "ModelVersion", "ComponentVersion")
}
CREATE = {
    "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "resourceGroup": "mlstack-dev",
    "location": "westeurope",
    "workspaceName": "mlstack-dev",
    "storageAccount": "mlstackdev01",
    "keyVault": "mlstack-dev-kv",
    "containerRegistry": "mlstackdev01",
}
ATTACH = {
    "mode": "attach",
    "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "resourceGroup": "team-ml",
    "workspaceName": "team-workspace",
}

pytestmark = pytest.mark.usefixtures("event_loop_for_pulumi")


@pytest.fixture(autouse=True)
def _reset_runtime() -> Iterator[None]:
    yield
    pulumi.runtime.settings.reset_options()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return project_copy(tmp_path_factory.mktemp("project"))


def declare(
    project: Project, monkeypatch: pytest.MonkeyPatch, stack: str, azure: dict[str, Any],
    *, versions: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
    registry: Any = None,
) -> Declared:  # fmt: skip
    monkeypatch.setenv(HOME_ENV, str(project.root / ".mlstack"))
    mocks = Recorder(versions=versions or {})
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="mlstack", stack=stack, preview=False,
                             monitor=monitor)  # fmt: skip
    values = {"target": "azure", "tags": {"env": stack}, "azure": azure, **(extra or {})}
    config = load_stack_config(stack, values)

    @pulumi.runtime.test  # type: ignore[misc]
    def run() -> None:
        build(config, project, opener=Absent, registry=registry)  # type: ignore[arg-type]

    run()
    return Declared(monitor.registered, mocks.calls)


def test_every_asset_resource_waits_for_the_workspace_datastore_and_write_access(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = declare(project, monkeypatch, "dev", CREATE)
    assets = [r for r in declared.resources if r.type in ASSET_TYPES]
    assert sorted(r.name for r in assets) == [
        "component-evaluate_digits", "component-prep_digits", "component-train_digits",
        "data-digits-test", "data-digits-train", "data-digits-val", "env-digits-env",
        "model-digits-cnn",
    ]  # fmt: skip
    env = next(r for r in assets if r.name == "env-digits-env")
    component = next(r for r in assets if r.name == "component-train_digits")
    assert env.urn in component.depends_on  # Azure ML resolves its environment at registration
    needs = {
        declared.one(f"{ML}Workspace").urn,
        declared.one(f"{ML}Datastore").urn,
        declared.one("azure-native:authorization:RoleAssignment").urn,
    }
    for asset in assets:
        assert needs <= asset.depends_on, asset.name
        assert asset.inputs["workspace"] == {
            "target": "azure", "subscription_id": CREATE["subscriptionId"],
            "resource_group": "mlstack-dev", "workspace": "mlstack-dev", "datastore": "mlstack",
            "blob_endpoint": "",
        }, asset.name  # fmt: skip
        assert "home" not in asset.inputs and "stack" not in asset.inputs


def test_the_deployer_may_write_blobs_of_the_storage_account(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = declare(project, monkeypatch, "dev", CREATE)
    access = declared.one("azure-native:authorization:RoleAssignment").inputs
    assert access["principalId"] == "deployer-object-id"
    assert access["roleDefinitionId"].endswith("/ba92f5b4-2d11-453d-a403-e96b0029c9fe")
    assert access["scope"] == "/mock/StorageAccount/platform-storage"


def test_a_deployment_serves_the_versions_the_stack_registered(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = {"model-digits-cnn": "7", "env-digits-env": "3"}
    declared = declare(project, monkeypatch, "dev", CREATE, versions=versions)
    deployment = declared.one(f"{ML}OnlineDeployment")
    ws = "/mock/MLWorkspace/platform-workspace"
    properties = deployment.inputs["properties"]
    assert properties["model"] == f"{ws}/models/digits-cnn/versions/7"
    assert properties["environmentId"] == f"{ws}/environments/digits-env/versions/3"
    # It waits for them: the references are those resources' outputs.
    assert declared.named("model-digits-cnn").urn in deployment.depends_on
    assert declared.named("env-digits-env").urn in deployment.depends_on
    # No azure-native environment version: environments are mlstack's, versioned by content.
    assert declared.of(f"{ML}EnvironmentVersion") == []


def test_prod_protects_what_holds_data_and_no_asset_resource(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = {**CREATE, "workspaceName": "mlstack-prod", "publicNetworkAccess": "Disabled",
            "protect": True}  # fmt: skip
    declared = declare(project, monkeypatch, "prod", prod)
    protected = {r.type.rsplit(":", 1)[1] for r in declared.resources if r.protect}
    assert protected == {"Workspace", "StorageAccount", "Vault"}
    assert not any(r.protect for r in declared.resources if r.type.startswith(DYNAMIC))


def test_attach_mode_declares_only_assets_and_endpoints(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = declare(project, monkeypatch, "team", ATTACH)
    native = sorted({r.type for r in declared.resources if r.type.startswith("azure-native:")})
    assert native == [f"{ML}{t}" for t in ("BatchDeployment", "BatchEndpoint", "CodeVersion",
                                           "OnlineDeployment", "OnlineEndpoint")]  # fmt: skip
    assert "azure-native:machinelearningservices:getWorkspace" in declared.calls  # its region
    endpoint = declared.one(f"{ML}OnlineEndpoint").inputs
    assert (endpoint["workspaceName"], endpoint["resourceGroupName"], endpoint["location"]) == (
        "team-workspace", "team-ml", "westeurope",
    )  # fmt: skip
    model = declared.named("model-digits-cnn").inputs
    assert model["workspace"]["datastore"] == "workspaceblobstore"
    # The scoring code goes to the attached workspace's datastore through the protocol.
    code = declared.one(f"{DYNAMIC}CodeFolder").inputs
    assert code["workspace"]["workspace"] == "team-workspace"


def test_attach_mode_without_endpoints_declares_no_azure_native_resource(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(project.root, bare, ignore=shutil.ignore_patterns("endpoints"))
    declared = declare(Project(bare), monkeypatch, "team", ATTACH)
    assert [r.type for r in declared.resources if r.type.startswith("azure-native:")] == []
    assert declared.calls == []
    assert {r.type for r in declared.resources} == {*ASSET_TYPES}


DIGEST = "sha256:" + "ab" * 32
SHARED = {"name": "mlstack-shared"}


def _through_registry(version: str) -> dict[str, Any]:
    """prod's config after `mlstack promote digits-cnn --from dev --to prod --via registry`."""
    pin = {"from": "dev", "version": version, "digest": DIGEST, "via": "registry",
           "registry": "mlstack-shared"}  # fmt: skip
    return {"modelSource": "promotion", "promotions": {"models": {"digits-cnn": pin}}}


def test_a_model_promoted_through_the_registry_is_served_from_it_with_no_copy(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = {**CREATE, "workspaceName": "mlstack-prod", "mlRegistry": SHARED}
    read: list[tuple[str, str, str]] = []
    declared = declare(project, monkeypatch, "prod", prod, extra=_through_registry("3"),
                       registry=lambda *key: read.append(key) or DIGEST)  # fmt: skip
    assert read == [("mlstack-shared", "digits-cnn", "3")]  # the pin is re-checked first
    deployment = declared.one(f"{ML}OnlineDeployment").inputs
    assert deployment["properties"]["model"] == (
        "azureml://registries/mlstack-shared/models/digits-cnn/versions/3"
    )
    ws = "/mock/MLWorkspace/platform-workspace"  # the environment is still the workspace's
    assert deployment["properties"]["environmentId"].startswith(f"{ws}/environments/digits-env/")
    names = {r.name for r in declared.resources}
    assert "model-digits-cnn" not in names  # neither a PromotedModel nor a ModelVersion
    assert not [r for r in declared.resources if r.type.endswith(("PromotedModel", "ModelVersion"))]
    assert declared.of(f"{ML}Registry") == []  # prod only names the registry here
    assert declared.of(f"{ML}ModelVersion") == []


def test_promoting_another_version_through_the_registry_changes_only_the_reference(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = {**CREATE, "workspaceName": "mlstack-prod", "mlRegistry": SHARED}
    before = declare(project, monkeypatch, "prod", prod, extra=_through_registry("3"),
                     registry=HOLDS)  # fmt: skip
    after = declare(project, monkeypatch, "prod", prod, extra=_through_registry("4"),
                    registry=HOLDS)  # fmt: skip
    old, new = before.one(f"{ML}OnlineDeployment"), after.one(f"{ML}OnlineDeployment")
    assert new.inputs["properties"]["model"].endswith("/models/digits-cnn/versions/4")
    changed = {k for k in old.inputs["properties"]
               if old.inputs["properties"][k] != new.inputs["properties"].get(k)}  # fmt: skip
    assert changed == {"model"}


def HOLDS(registry: str, name: str, version: str) -> str:  # noqa: N802 - a constant reader
    """A registry that holds every pinned version with the pinned digest."""
    return DIGEST


@pytest.mark.parametrize(
    ("held", "reason"),
    [("sha256:" + "cd" * 32, "digest mismatch: the Azure ML registry 'mlstack-shared' holds "
      "digits-cnn:3 with digest sha256:cdcd"),
     (None, "model digits-cnn:3 is not in the Azure ML registry 'mlstack-shared': share it "
      "with `mlstack promote digits-cnn --from dev --to prod --via registry`")],
)  # fmt: skip
def test_a_registry_pin_the_registry_does_not_hold_fails_the_preview(
    project: Project, monkeypatch: pytest.MonkeyPatch, held: str | None, reason: str
) -> None:
    prod = {**CREATE, "workspaceName": "mlstack-prod", "mlRegistry": SHARED}
    monitor: list[Any] = []

    def reader(registry: str, name: str, version: str) -> str | None:
        return held

    with pytest.raises(ConfigError) as caught:
        monitor.append(declare(project, monkeypatch, "prod", prod,
                               extra=_through_registry("3"), registry=reader))  # fmt: skip
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("stacks/Pulumi.prod.yaml",
                                             "mlstack:promotions.models.digits-cnn")  # fmt: skip
    assert problem.reason.startswith(reason)
    assert monitor == []


def test_a_registry_pin_needs_the_stack_to_name_that_registry() -> None:
    with pytest.raises(ConfigError) as caught:
        load_stack_config("prod", {"target": "azure", "azure": CREATE,
                                   **_through_registry("3")})  # fmt: skip
    (problem,) = caught.value.problems
    assert "mlstack:azure.mlRegistry" in problem.reason and "mlstack-shared" in problem.reason
    with pytest.raises(ConfigError, match="local stack has no Azure ML registry"):
        load_stack_config("local-prod", _through_registry("3"))


def test_the_old_registry_key_is_reported_as_a_warning_by_the_program(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warned.append(message))
    legacy = {**{k: v for k, v in CREATE.items() if k != "containerRegistry"},
              "registry": CREATE["containerRegistry"]}  # fmt: skip
    declared = declare(project, monkeypatch, "dev", legacy)
    assert declared.one("azure-native:containerregistry:Registry").inputs["registryName"] == (
        "mlstackdev01"
    )
    assert [w for w in warned if "containerRegistry" in w] == [
        "stacks/Pulumi.dev.yaml: `mlstack:azure.registry` is deprecated: it names the Azure "
        "Container Registry; rename the key to `containerRegistry` (same value, nothing is "
        "replaced). Azure ML registries are declared under `mlRegistry`"
    ]


def test_a_rollback_repoints_the_deployment_and_traffic_waits_for_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prod served version 2; the stack now declares version 1 again. The same resources are
    declared (the deployment is updated in place, Azure rolls its instances and creates them
    only once their container answers the readiness probe), it references version 1, and the
    traffic step runs only after the deployment."""
    serving = declare(project, monkeypatch, "prod", CREATE, versions={"model-digits-cnn": "2"})
    pulumi.runtime.settings.reset_options()
    rolled = declare(project, monkeypatch, "prod", CREATE, versions={"model-digits-cnn": "1"})
    assert sorted((r.type, r.name) for r in rolled.resources) == sorted(
        (r.type, r.name) for r in serving.resources
    )
    ws = "/mock/MLWorkspace/platform-workspace"
    for declared, version in ((serving, "2"), (rolled, "1")):
        deployment = declared.one(f"{ML}OnlineDeployment")
        model = deployment.inputs["properties"]["model"]
        assert model == f"{ws}/models/digits-cnn/versions/{version}"
        (traffic,) = [r for r in declared.resources if r.name.endswith("-traffic-digits")]
        assert deployment.urn in traffic.depends_on
        assert declared.named("model-digits-cnn").urn in deployment.depends_on


def _as_preview(declared: Declared) -> dict[str, Any]:
    """The declared resources as a first preview's steps: every one created."""
    return {"steps": [
        {"op": "create", "urn": r.urn or f"urn:pulumi:dev::mlstack::{r.type}::{r.name}",
         "newState": {"type": r.type, "inputs": r.inputs}}
        for r in declared.resources
    ]}  # fmt: skip


def test_the_review_reads_which_deployment_serves_the_model_from_the_azure_resources(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = declare(project, monkeypatch, "dev", CREATE, versions={"model-digits-cnn": "4"})
    serving = serving_of(_as_preview(declared))
    [deployment] = declared.of(f"{ML}OnlineDeployment")
    assert deployment.inputs["properties"]["model"].endswith("/models/digits-cnn/versions/4")
    assert serving == {
        "digits-cnn": (Serving("digits", "blue", 100, declared=True),),
    }
    # Through a registry, the deployment references the registry's version: the same model.
    prod = {**CREATE, "workspaceName": "mlstack-prod", "mlRegistry": SHARED}
    shared = declare(project, monkeypatch, "prod", prod, extra=_through_registry("3"),
                     registry=HOLDS)  # fmt: skip
    assert serving_of(_as_preview(shared)) == serving
