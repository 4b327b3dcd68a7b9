"""Contract: the submission body azure-ai-ml would send for the shipped job YAML."""

from __future__ import annotations

import json
from pathlib import Path

from mlstack.jobs.azure import submission_body
from mlstack.jobs.spec import load_spec

REPO = Path(__file__).resolve().parents[3]
VERSIONS = {"digits-train": "7", "digits-val": "5", "digits-test": "4", "digits-env": "3"}


def pin(ref: str) -> tuple[str, str, str]:
    name = ref.partition("@")[0].partition(":")[0]
    return name, VERSIONS[name], f"sha256:{name}"


def test_a_command_job_is_submitted_with_every_version_pinned() -> None:
    spec = load_spec(REPO / "assets/jobs/train.yaml")
    body = submission_body(spec, "train_0123456789", data=pin, environment=pin)
    props = body["properties"]
    assert body["name"] == "train_0123456789"
    assert props["jobType"] == "Command"
    assert props["inputs"]["train"] == {"jobInputType": "uri_folder", "mode": "ReadOnlyMount",
                                        "uri": "azureml:digits-train:7"}  # fmt: skip
    assert props["inputs"]["test"]["uri"] == "azureml:digits-test:4"
    assert props["inputs"]["epochs"] == {"jobInputType": "literal", "value": "8"}
    assert props["outputs"] == {"model": {"jobOutputType": "uri_folder"}}
    assert props["environmentId"] == "azureml:digits-env:3"
    assert props["computeId"] == "cpu-cluster"
    assert props["command"] == spec.command
    job = json.loads(props["environmentVariables"]["MLSTACK_JOB"])
    assert job["id"] == "train_0123456789"
    assert job["inputs"]["val"] == {"digest": "sha256:digits-val", "name": "digits-val",
                                    "version": "5"}  # fmt: skip
    assert job["environment"]["version"] == "3"
    assert "@latest" not in json.dumps(body)


def test_a_sweep_job_carries_its_search_space_limits_and_policy() -> None:
    spec = load_spec(REPO / "assets/jobs/sweep.yaml")
    props = submission_body(spec, "sweep_1", data=pin, environment=pin)["properties"]
    assert props["jobType"] == "Sweep"
    assert props["samplingAlgorithm"]["samplingAlgorithmType"] == "Random"
    assert props["searchSpace"]["batch_size"] == ["choice", [[16, 32, 64]]]
    assert props["objective"] == {"goal": "maximize", "primaryMetric": "val_accuracy"}
    assert props["limits"]["maxConcurrentTrials"] == 2
    assert props["earlyTermination"]["policyType"] == "Bandit"
    assert props["trial"]["environmentId"] == "azureml:digits-env:3"
    assert props["inputs"]["train"]["uri"] == "azureml:digits-train:7"
    assert "MLSTACK_JOB" in props["trial"]["environmentVariables"]
