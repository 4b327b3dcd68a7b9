"""Every policy over what the azure program really declares, recorded with Pulumi mocks.

The azure-native plugin cannot run here, so the pack never sees an azure stack through the
engine; these tests give its checks the inputs the program registers — the whole program,
with the shipped asset files and the shipped ``dev`` and ``prod`` stack files (their
placeholders filled in) — in the shapes the engine would hand the pack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mlstack.config.stack import load_stack_config, stack_values
from mlstack.program import build
from mlstack.project import HOME_ENV, Project
from mlstack_policy.catalog import RULES
from mlstack_policy.resource import Resource
from mlstack_policy.settings import Settings
from tests.support.pulumi_mocks import Absent, Recorder, RecordingMonitor, project_copy

ROOT = Path(__file__).resolve().parents[3]
FILLED = {
    "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "storageAccount": "mlstackstore01",
    "keyVault": "mlstack-kv-01",
    "containerRegistry": "mlstackacr01",
}

pytestmark = pytest.mark.usefixtures("event_loop_for_pulumi")


@pytest.fixture(autouse=True)
def _reset_runtime() -> Iterator[None]:
    yield
    pulumi.runtime.settings.reset_options()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return project_copy(tmp_path_factory.mktemp("project"))


def shipped(stack: str, **changes: Any) -> dict[str, Any]:
    """The stack file's ``mlstack:`` keys, placeholders filled in, ``changes`` applied."""
    values = stack_values(ROOT, stack)
    values["azure"] = {**values["azure"], **FILLED}
    return {**values, **changes}


def declared(project: Project, monkeypatch: pytest.MonkeyPatch, stack: str,
             values: dict[str, Any], registry: Any = None) -> list[Resource]:  # fmt: skip
    """What the program registers for ``values``, as the pack's Resource views."""
    monkeypatch.setenv(HOME_ENV, str(project.root / ".mlstack"))
    mocks = Recorder()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="mlstack", stack=stack, preview=False,
                             monitor=monitor)  # fmt: skip
    config = load_stack_config(stack, values)

    @pulumi.runtime.test  # type: ignore[misc]
    def run() -> None:
        build(config, project, opener=Absent, registry=registry)  # type: ignore[arg-type]

    run()
    return [
        Resource(type=r.type, name=r.name, props=r.inputs, protect=r.protect, urn=r.urn)
        for r in monitor.registered
    ]


def violations(
    resources: list[Resource], values: dict[str, Any], stack: str
) -> set[tuple[str, str]]:
    """(policy, resource name) of every violation a rule enabled on the stack reports."""
    settings = Settings.from_config(values, stack=stack)
    return {
        (rule.name, resource.name)
        for rule in RULES
        if settings.level(rule.name, prod_only=rule.prod_only) != "disabled"
        for resource in resources
        if rule.violations(resource, settings)
    }


def test_the_shipped_prod_stack_breaks_only_the_policy_it_makes_advisory(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = shipped("prod")
    resources = declared(project, monkeypatch, "prod", values)
    assert {r.kind for r in resources} >= {"StorageAccount", "Vault", "Workspace", "Compute"}
    assert violations(resources, values, "prod") == {("storage-no-shared-key", "platform-storage")}
    assert values["policyEnforcement"] == {"storage-no-shared-key": "advisory"}


def test_prod_serving_a_model_from_a_training_folder_is_refused_and_its_endpoint_passes(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = shipped("prod", modelSource="artefact")
    resources = declared(project, monkeypatch, "prod", values)
    found = violations(resources, values, "prod")
    assert ("models-by-promotion", "model-digits-cnn") in found
    # The fixture artefact's lineage pins no environment: the lineage policy says so.
    assert ("model-lineage", "model-digits-cnn") in found
    endpoint_policies = {"no-public-network", "endpoint-auth", "instance-types", "required-tags"}
    served = {"platform-endpoint-digits", "platform-deployment-digits-blue"}
    assert {name for policy, name in found if policy in endpoint_policies} & served == set()


def test_a_prod_stack_left_public_and_unprotected_is_told_everything_it_breaks(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    azure = {**shipped("prod")["azure"], "publicNetworkAccess": "Enabled", "protect": False}
    values = shipped("prod", azure=azure, tags={"env": "prod"})
    found = violations(declared(project, monkeypatch, "prod", values), values, "prod")
    for name in ("platform-storage", "platform-keyvault", "platform-workspace"):
        assert ("no-public-network", name) in found
        assert ("protect-stateful", name) in found
        assert ("required-tags", name) in found
    assert ("no-public-network", "platform-endpoint-digits") not in found  # model held back


def test_the_shipped_dev_stack_passes_every_policy_it_is_held_to(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = shipped("dev")
    resources = declared(project, monkeypatch, "dev", values)
    assert "OnlineEndpoint" in {r.kind for r in resources}
    assert violations(resources, values, "dev") == set()
    # Held to the production policies it would fail a good many of them.
    assert violations(resources, {**values, "policy": "prod"}, "dev")


def test_dev_with_a_larger_cluster_than_it_allows_fails_the_compute_limit(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = shipped("dev", policySettings={"maxComputeNodes": 2})
    found = violations(declared(project, monkeypatch, "dev", values), values, "dev")
    assert found == {("compute-max-nodes", "platform-compute-cpu-cluster")}


DIGEST = "sha256:" + "ab" * 32


def test_prod_serving_from_the_registry_it_creates_passes_and_protects_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped prod with its commented mlRegistry block enabled and a registry pin."""
    registry = {"name": "mlstack-shared", "create": True, "replicationLocations": ["northeurope"]}
    pin = {"from": "dev", "version": "3", "digest": DIGEST, "via": "registry",
           "registry": "mlstack-shared"}  # fmt: skip
    values = shipped("prod", promotions={"models": {"digits-cnn": pin}})
    values["azure"] = {**values["azure"], "mlRegistry": registry}
    resources = declared(project, monkeypatch, "prod", values, registry=lambda *_: DIGEST)
    kinds = {r.kind for r in resources}
    assert {"Registry", "OnlineDeployment"} <= kinds  # ACR and the ML registry; served
    assert violations(resources, values, "prod") == {("storage-no-shared-key", "platform-storage")}
    unprotected = {**values, "azure": {**values["azure"], "protect": False}}
    found = violations(declared(project, monkeypatch, "prod", unprotected,
                                registry=lambda *_: DIGEST), unprotected, "prod")  # fmt: skip
    assert ("protect-stateful", "platform-ml-registry") in found
