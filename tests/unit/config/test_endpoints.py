"""Online endpoint and deployment specs read with azure-ai-ml's loaders."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.config.endpoints import load_endpoint_specs
from mlstack.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
ENDPOINT = "name: {name}\nauth_mode: key\ntraffic:\n{traffic}"
DEPLOYMENT = """name: {name}
endpoint_name: {endpoint}
model: {model}
environment: azureml:digits-env:1
code_configuration:
  code: ../../code
  scoring_script: score.py
instance_type: Standard_DS3_v2
instance_count: {count}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text("def init(): ...\ndef run(raw): ...\n")
    (tmp_path / "assets" / "endpoints").mkdir(parents=True)
    return tmp_path


def write(root: Path, name: str, text: str) -> None:
    (root / "assets" / "endpoints" / name).write_text(text, encoding="utf-8")


def deployment(name: str = "blue", endpoint: str = "digits", **kw: object) -> str:
    values = {"model": "azureml:digits-cnn:1", "count": 1, **kw}
    return DEPLOYMENT.format(name=name, endpoint=endpoint, **values)


def test_shipped_endpoint_has_its_deployment_and_traffic() -> None:
    (endpoint,) = load_endpoint_specs(ROOT)
    assert (endpoint.name, endpoint.auth_mode, endpoint.traffic) == ("digits", "key", {"blue": 100})
    (blue,) = endpoint.deployments
    assert blue.name == "blue"
    assert (blue.model.name, blue.model.version) == ("digits-cnn", "1")
    assert str(blue.environment) == "azureml:digits-env:1"
    assert blue.code == ROOT / "training"
    assert blue.scoring_script == "score.py"
    assert (blue.instance_type, blue.instance_count) == ("Standard_DS3_v2", 1)


def test_blue_green_split(project: Path) -> None:
    split = "  blue: 90\n  green: 10\n"
    write(project, "digits.yaml", ENDPOINT.format(name="digits", traffic=split))
    write(project, "digits-blue.yaml", deployment("blue"))
    write(project, "digits-green.yaml", deployment("green", model="azureml:digits-cnn:2"))
    (endpoint,) = load_endpoint_specs(project)
    assert sorted(d.name for d in endpoint.deployments) == ["blue", "green"]
    assert endpoint.traffic == {"blue": 90, "green": 10}


def test_traffic_may_name_only_declared_deployments(project: Path) -> None:
    write(project, "digits.yaml", ENDPOINT.format(name="digits", traffic="  blue: 50\n  red: 50\n"))
    write(project, "digits-blue.yaml", deployment("blue"))
    with pytest.raises(ConfigError) as caught:
        load_endpoint_specs(project)
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("assets/endpoints/digits.yaml", "traffic.red")
    assert "'red' is not a declared deployment of 'digits' (declared: blue)" in problem.reason


def test_every_problem_at_once(project: Path) -> None:
    write(project, "digits.yaml", ENDPOINT.format(name="digits", traffic="  blue: 60\n"))
    write(project, "x.yaml", ENDPOINT.format(name="1x", traffic="  {}\n"))
    write(project, "digits-blue.yaml", deployment("blue", model="azureml:digits-cnn@latest"))
    write(project, "digits-zero.yaml", deployment("zero", count=0))
    write(project, "other-blue.yaml", deployment("blue", endpoint="other"))
    with pytest.raises(ConfigError) as caught:
        load_endpoint_specs(project)
    found = {(p.file, p.field): p.reason for p in caught.value.problems}
    assert "add up to 60" in found[("assets/endpoints/digits.yaml", "traffic")]
    assert "pattern" in found[("assets/endpoints/x.yaml", "name")]  # azure-ai-ml checks it
    assert "azureml:digits-cnn:1" in found[("assets/endpoints/digits-blue.yaml", "model")]
    assert "at least one" in found[("assets/endpoints/digits-zero.yaml", "instance_count")]
    assert "not a declared endpoint" in found[("assets/endpoints/other-blue.yaml", "endpoint_name")]


def test_scoring_script_must_exist_in_the_code_folder(project: Path) -> None:
    write(project, "digits.yaml", ENDPOINT.format(name="digits", traffic="  blue: 100\n"))
    write(project, "digits-blue.yaml", deployment().replace("score.py", "missing.py"))
    with pytest.raises(ConfigError) as caught:
        load_endpoint_specs(project)
    fields = [p.field for p in caught.value.problems]
    assert "code_configuration.scoring_script" in fields


def test_loader_objections_are_reported_per_field(project: Path) -> None:
    write(project, "digits.yaml", "name: digits\nauth_mode: key\ncolour: red\n")
    with pytest.raises(ConfigError) as caught:
        load_endpoint_specs(project)
    (problem,) = caught.value.problems
    assert problem.field == "colour"
    assert "ml-cli-v2-endpoint-online-yaml-reference" in problem.reason
