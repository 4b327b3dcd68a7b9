"""The shipped batch endpoint on the ``azure`` target, declared under Pulumi mocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest

from mlstack.errors import ConfigError
from mlstack.project import Project
from tests.support.pulumi_mocks import project_copy
from tests.unit.program.test_azure_program import CREATE, ML, declare

pytestmark = pytest.mark.usefixtures("event_loop_for_pulumi")
WS = "/mock/MLWorkspace/platform-workspace"


@pytest.fixture(autouse=True)
def _reset_runtime() -> Iterator[None]:
    yield
    pulumi.runtime.settings.reset_options()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return project_copy(tmp_path_factory.mktemp("project"))


def test_batch_deployment_runs_the_versions_the_stack_registered(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = {"model-digits-cnn": "7", "env-digits-env": "3"}
    declared = declare(project, monkeypatch, "dev", CREATE, versions=versions)
    endpoint = declared.one(f"{ML}BatchEndpoint")
    assert endpoint.inputs["endpointName"] == "digits-batch"
    assert endpoint.inputs["properties"]["authMode"] == "AADToken"
    deployment = declared.one(f"{ML}BatchDeployment")
    assert (deployment.inputs["endpointName"], deployment.inputs["deploymentName"]) == (
        "digits-batch", "default",
    )  # fmt: skip
    properties = deployment.inputs["properties"]
    # @latest follows the version this stack's model resource registered, and waits for it.
    assert properties["model"] == {
        "referenceType": "Id", "assetId": f"{WS}/models/digits-cnn/versions/7",
    }  # fmt: skip
    assert properties["environmentId"] == f"{WS}/environments/digits-env/versions/3"
    assert declared.named("model-digits-cnn").urn in deployment.depends_on
    assert endpoint.urn in deployment.depends_on
    assert properties["compute"] == f"{WS}/computes/cpu-cluster"
    # training/ is the online deployment's code too: one code version, shared.
    code = declared.one(f"{ML}CodeVersion")
    assert properties["codeConfiguration"] == {
        "codeId": f"/mock/CodeVersion/{code.name}", "scoringScript": "batch_score.py",
    }  # fmt: skip
    online = declared.one(f"{ML}OnlineDeployment").inputs["properties"]["codeConfiguration"]
    assert online["codeId"] == properties["codeConfiguration"]["codeId"]
    assert {k: properties[k] for k in (
        "miniBatchSize", "maxConcurrencyPerInstance", "outputAction", "outputFileName",
        "errorThreshold", "retrySettings", "resources",
    )} == {
        "miniBatchSize": 20, "maxConcurrencyPerInstance": 2, "outputAction": "AppendRow",
        "outputFileName": "predictions.csv", "errorThreshold": -1,
        "retrySettings": {"maxRetries": 3, "timeout": "PT60S"},
        "resources": {"instanceCount": 1},
    }  # fmt: skip


def test_a_pinned_model_stays_on_its_version(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = project.root / "assets" / "endpoints" / "digits-batch-default.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("azureml:digits-cnn@latest", "azureml:digits-cnn:2"))
    try:
        declared = declare(project, monkeypatch, "dev", CREATE,
                           versions={"model-digits-cnn": "7"})  # fmt: skip
    finally:
        spec.write_text(original)
    model = declared.one(f"{ML}BatchDeployment").inputs["properties"]["model"]
    assert model["assetId"] == f"{WS}/models/digits-cnn/versions/2"


def test_a_batch_deployment_without_compute_fails_the_preview(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = project.root / "assets" / "endpoints" / "digits-batch-default.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("compute: azureml:cpu-cluster\n", ""))
    try:
        with pytest.raises(ConfigError, match=r"digits-batch-default\.yaml: compute: required"):
            declare(project, monkeypatch, "dev", CREATE)
    finally:
        spec.write_text(original)
