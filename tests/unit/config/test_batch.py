"""Batch endpoint and deployment specs read with azure-ai-ml's batch loaders."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.config.batch import load_batch_specs, scoring_script_problem
from mlstack.config.endpoints import load_endpoint_specs
from mlstack.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
ENDPOINT = """$schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
name: {name}
defaults:
  deployment_name: default
"""
DEPLOYMENT = """name: default
endpoint_name: {endpoint}
model: {model}
environment: azureml:digits-env:1
code_configuration:
  code: ../../code
  scoring_script: {script}
mini_batch_size: {size}
max_concurrency_per_instance: 2
output_action: {action}
retry_settings:
  max_retries: 1
  timeout: 5
error_threshold: {threshold}
"""
GOOD_SCRIPT = "def init():\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "batch.py").write_text(GOOD_SCRIPT)
    (tmp_path / "assets" / "endpoints").mkdir(parents=True)
    (tmp_path / "assets" / "models").mkdir(parents=True)
    (tmp_path / "assets" / "models" / "m.yaml").write_text("name: digits-cnn\npath: x\n")
    return tmp_path


def write(root: Path, name: str, text: str) -> None:
    (root / "assets" / "endpoints" / name).write_text(text, encoding="utf-8")


def deployment(**kw: object) -> str:
    values = {"endpoint": "scorer", "model": "azureml:digits-cnn@latest", "script": "batch.py",
              "size": 4, "action": "append_row", "threshold": -1, **kw}  # fmt: skip
    return DEPLOYMENT.format(**values)


def test_shipped_batch_endpoint_and_online_endpoint_share_the_folder() -> None:
    (batch,) = load_batch_specs(ROOT)
    assert (batch.name, batch.default_deployment) == ("digits-batch", "default")
    default = batch.deployment()
    assert (default.model.name, default.model.version) == ("digits-cnn", None)
    assert str(default.environment) == "azureml:digits-env:1"
    assert default.code == ROOT / "training"
    assert default.scoring_script == "batch_score.py"
    assert (default.mini_batch_size, default.max_concurrency_per_instance) == (20, 2)
    assert (default.output_action, default.output_file_name) == ("append_row", "predictions.csv")
    assert (default.max_retries, default.timeout, default.error_threshold) == (3, 60, -1)
    # the online loader leaves the batch files alone
    assert [e.name for e in load_endpoint_specs(ROOT)] == ["digits"]


def test_settings_and_pinned_model(project: Path) -> None:
    write(project, "scorer.yaml", ENDPOINT.format(name="scorer"))
    write(project, "scorer-default.yaml", deployment(model="azureml:digits-cnn:3", threshold=5))
    (endpoint,) = load_batch_specs(project)
    spec = endpoint.deployment()
    assert (spec.model.name, spec.model.version) == ("digits-cnn", "3")
    assert (spec.mini_batch_size, spec.error_threshold, spec.max_retries, spec.timeout) == (
        4, 5, 1, 5,
    )  # fmt: skip


def test_defaults_follow_azure_ml(project: Path) -> None:
    write(project, "scorer.yaml", "$schema: https://x/batchEndpoint.schema.json\nname: scorer\n")
    write(project, "scorer-default.yaml", "\n".join(
        line for line in deployment().splitlines()
        if not line.startswith(("mini_batch_size", "max_conc", "output_action", "retry",
                                "  max_retries", "  timeout", "error_threshold"))
    ) + "\nmini_batch_size: 10\n")  # fmt: skip
    spec = load_batch_specs(project)[0].deployment()  # the only one serves as default
    assert (spec.max_concurrency_per_instance, spec.output_action, spec.error_threshold) == (
        1, "append_row", -1,
    )  # fmt: skip
    assert (spec.max_retries, spec.timeout, spec.output_file_name) == (3, 30, "predictions.csv")


def test_every_problem_reported_at_once_with_file_and_field(project: Path) -> None:
    (project / "code" / "no_run.py").write_text("def init():\n    pass\n")
    write(project, "scorer.yaml", ENDPOINT.format(name="scorer"))
    write(project, "scorer-default.yaml", deployment(script="no_run.py", size=0))
    write(project, "scorer-other.yaml", deployment(model="azureml:unknown-model:1").replace(
        "name: default", "name: other"))  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        load_batch_specs(project)
    found = {(p.file, p.field): p.reason for p in raised.value.problems}
    script = found[("assets/endpoints/scorer-default.yaml", "code_configuration.scoring_script")]
    assert "no_run.py defines no run(mini_batch)" in script
    size = found[("assets/endpoints/scorer-default.yaml", "mini_batch_size")]
    assert "0 is not a whole number >= 1" in size
    model = found[("assets/endpoints/scorer-other.yaml", "model")]
    assert "'unknown-model' is not a model declared in assets/models" in model


def test_deployment_of_an_undeclared_endpoint_and_a_missing_default(project: Path) -> None:
    write(project, "scorer.yaml", ENDPOINT.format(name="scorer"))
    write(project, "lost-default.yaml", deployment(endpoint="lost"))
    with pytest.raises(ConfigError) as raised:
        load_batch_specs(project)
    reasons = [(p.field, p.reason) for p in raised.value.problems]
    assert any(f == "endpoint_name" and "'lost' is not a declared batch endpoint" in r
               for f, r in reasons)  # fmt: skip
    assert any(f == "defaults.deployment_name" and "'default'" in r for f, r in reasons)


def test_unknown_key_is_named(project: Path) -> None:
    write(project, "scorer.yaml", ENDPOINT.format(name="scorer"))
    write(project, "scorer-default.yaml", deployment() + "mini_batch_sise: 3\n")
    with pytest.raises(ConfigError) as raised:
        load_batch_specs(project)
    (problem,) = raised.value.problems
    assert problem.field == "mini_batch_sise"
    assert "unknown key" in problem.reason


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ("def run(mini_batch):\n    return []\n", "init()"),
        ("def init():\n    pass\n\n\ndef run():\n    return []\n", "run(mini_batch)"),
        ("class Scorer:\n    def init(self): ...\n    def run(self, b): ...\n", "init() and no"),
    ],
)
def test_scoring_script_checked_without_importing_it(
    tmp_path: Path, source: str, missing: str
) -> None:
    script = tmp_path / "s.py"
    script.write_text("raise SystemExit('imported!')\n" + source)
    problem = scoring_script_problem(script)
    assert problem is not None
    assert missing in problem


def test_a_good_script_passes(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(GOOD_SCRIPT)
    assert scoring_script_problem(script) is None
    assert scoring_script_problem(ROOT / "training" / "batch_score.py") is None
