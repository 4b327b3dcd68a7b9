"""Job specs load through azure-ai-ml; placeholders are checked; commands substitute."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from mlstack.errors import ConfigError
from mlstack.jobs.metrics import METRICS_ENV, MetricsTail, log_metric, read_metrics, series
from mlstack.jobs.runner import JOB_ENV, Prepared, command_line, output_paths
from mlstack.jobs.spec import AssetInput, load_spec
from mlstack.workspace.inputs import ResolvedInput

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_command_job_loads() -> None:
    spec = load_spec(REPO / "assets/jobs/train.yaml")
    assert spec.kind == "command" and spec.sweep is None
    assert spec.code == REPO / "training"
    assert spec.environment == "azureml:digits-env@latest"
    assert spec.compute == "azureml:cpu-cluster"
    train = spec.inputs["train"]
    assert isinstance(train, AssetInput) and train.asset_ref == "digits-train@latest"
    assert spec.inputs["epochs"] == 8 and spec.inputs["model_name"] == "digits-cnn"
    assert set(spec.outputs) == {"model"}
    assert ("outputs", "model") in spec.placeholders()


def test_the_shipped_sweep_job_loads() -> None:
    spec = load_spec(REPO / "assets/jobs/sweep.yaml")
    sweep = spec.sweep
    assert sweep is not None and spec.kind == "sweep"
    assert (sweep.sampling_algorithm, sweep.seed, sweep.goal) == ("random", 7, "maximize")
    assert sweep.primary_metric == "val_accuracy"
    assert sweep.search_space["lr"].type == "loguniform"
    assert sweep.search_space["batch_size"].values == (16, 32, 64)
    assert (sweep.limits.max_total_trials, sweep.limits.max_concurrent_trials) == (12, 2)
    policy = sweep.early_termination
    assert policy is not None and (policy.type, policy.slack_factor) == ("bandit", 0.1)


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    path = tmp_path / "job.yaml"
    path.write_text(body)
    return path


def test_undeclared_placeholders_are_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path, """
type: command
code: code
command: python x.py --a ${{inputs.a}} --b ${{inputs.b}} --o ${{outputs.o}}
environment: azureml:env@latest
inputs:
  a: 1
""")  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        load_spec(path)
    assert [p.field for p in raised.value.problems] == [
        "command: ${{inputs.b}}", "command: ${{outputs.o}}"]  # fmt: skip


def test_bayesian_sampling_refuses_early_termination_as_the_service_does(tmp_path: Path) -> None:
    text = (
        (REPO / "assets/jobs/sweep.yaml")
        .read_text()
        .replace("type: random\n  seed: 7", "type: bayesian")
    )
    path = write(tmp_path, text.replace("../../training", "code"))
    with pytest.raises(ConfigError, match="bayesian sampling does not support early termination"):
        load_spec(path)


def test_a_file_that_is_not_a_job_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such job file|not a valid"):
        load_spec(tmp_path / "missing.yaml")


def test_placeholders_become_quoted_paths_and_values(tmp_path: Path) -> None:
    spec = load_spec(REPO / "assets/jobs/train.yaml")
    folder = tmp_path / "cache with space"
    data = {r: ResolvedInput(f"digits-{r}", "3", f"sha256:{r}", folder / r, 1)
            for r in ("train", "val", "test")}  # fmt: skip
    literals = {k: v for k, v in spec.inputs.items() if not isinstance(v, AssetInput)}
    prepared = Prepared(data, {}, literals, None)  # type: ignore[arg-type]
    outputs = output_paths(spec, tmp_path / "job")
    assert outputs == {"model": (tmp_path / "job" / "outputs" / "model").resolve()}
    argv = shlex.split(command_line(spec, prepared, outputs))
    assert argv[argv.index("--train") + 1] == str(folder / "train")
    assert argv[argv.index("--epochs") + 1] == "8"
    assert argv[argv.index("--out") + 1] == str(outputs["model"])
    assert prepared.identity("job_1") == {
        "environment": None, "id": "job_1",
        "inputs": {r: {"digest": f"sha256:{r}", "name": f"digits-{r}", "version": "3"}
                   for r in ("train", "val", "test")},
    }  # fmt: skip
    assert JOB_ENV == "MLSTACK_JOB"
    with pytest.raises(ConfigError, match=r"outputs\.nope"):
        output_paths(spec, tmp_path, {"nope": tmp_path})


def test_log_metric_appends_rows_a_tail_reads_incrementally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "metrics.jsonl"
    log_metric("ignored", 1.0)  # no job, no MLflow: nothing happens
    monkeypatch.setenv(METRICS_ENV, str(target))
    tail = MetricsTail(target)
    assert tail.poll() == []
    log_metric("val_accuracy", 0.5, step=1)
    log_metric("val_loss", 2.0, step=1)
    assert [m.key for m in tail.poll()] == ["val_accuracy", "val_loss"]
    with target.open("a") as handle:
        handle.write(json.dumps({"key": "val_accuracy", "value": 0.7, "step": 2,
                                 "timestamp": 0}) + "\n" + '{"key": "half')  # fmt: skip
    assert [m.value for m in tail.poll()] == [0.7]  # the torn line waits
    assert series(read_metrics(target), "val_accuracy") == [0.5, 0.7]


def test_a_file_the_schema_rejects_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "type: sweep\nsampling_algorithm: {type: bayesian, seed: 1}\n")
    with pytest.raises(ConfigError) as caught:
        load_spec(path)
    fields = {p.field: p.reason for p in caught.value.problems}
    assert {"objective", "limits", "trial"} <= fields.keys()
    assert "Missing data for required field" in fields["trial"]


def test_a_local_folder_input_is_not_taken_for_a_registered_asset(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = write(tmp_path, "type: command\ncommand: ls ${{inputs.d}}\nenvironment: azureml:e:1\n"
                 "inputs:\n  d:\n    type: uri_folder\n    path: ./data\n"
                 "  r:\n    type: uri_folder\n    path: azureml:digits-train@latest\n")  # fmt: skip
    spec = load_spec(path)
    local, registered = spec.inputs["d"], spec.inputs["r"]
    assert isinstance(local, AssetInput) and isinstance(registered, AssetInput)
    assert local.asset_ref is None and local.local_path(tmp_path) == tmp_path / "data"
    assert registered.asset_ref == "digits-train@latest" and registered.local_path(tmp_path) is None
