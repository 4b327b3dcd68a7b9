from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlstack.config.models import Gate, ModelSpec, load_model_specs, parse_gate
from mlstack.errors import ConfigError, Problem

REPO = Path(__file__).resolve().parents[3]
SCHEMA = "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project with an empty assets/models and no outputs yet (training has not run)."""
    (tmp_path / "assets" / "models").mkdir(parents=True)
    return tmp_path


def declare(root: Path, filename: str, body: str) -> Path:
    file = root / "assets" / "models" / filename
    file.write_text(SCHEMA + body)
    return file


def valid(name: str = "m", extra: str = "") -> str:
    return f"name: {name}\ntype: custom_model\npath: ../../outputs/m\n{extra}"


def problems_of(root: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_model_specs(root)
    return caught.value.problems


def only_problem(root: Path) -> Problem:
    problems = problems_of(root)
    assert len(problems) == 1, problems
    return problems[0]


def test_a_model_whose_folder_does_not_exist_yet_loads(root: Path) -> None:
    file = declare(
        root,
        "m.yaml",
        valid(
            extra="description: d\ntags: {a: b}\nstage: Development\nversion: 2\n"
            "properties:\n  mlstack.min.test.accuracy: 0.95\n  mlstack.max.test.loss: '0.3'\n"
            "  owner: team\n"
        ),
    )
    (spec,) = load_model_specs(root)
    assert not spec.path.exists()
    assert spec == ModelSpec(
        name="m",
        type="custom_model",
        path=(root / "outputs" / "m").resolve(),
        description="d",
        tags={"a": "b"},
        stage="Development",
        properties={
            "mlstack.max.test.loss": "0.3",
            "mlstack.min.test.accuracy": "0.95",
            "owner": "team",
        },
        gates=(
            Gate(split="test", metric="loss", bound="max", value=0.3),
            Gate(split="test", metric="accuracy", bound="min", value=0.95),
        ),
        version="2",
        file=file.resolve(),
    )
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize("kind", ["mlflow_model", "triton_model"])
def test_other_model_types_and_the_default(root: Path, kind: str) -> None:
    declare(root, "a.yaml", f"name: a\ntype: {kind}\npath: ../../outputs/a\n")
    declare(root, "b.yml", "name: b\npath: ../../outputs/b\n")
    loaded = [(s.name, s.type) for s in load_model_specs(root)]
    assert loaded == [("a", kind), ("b", "custom_model")]


def test_no_folder_declares_nothing(tmp_path: Path) -> None:
    assert load_model_specs(tmp_path) == ()


METRICS: dict[str, Any] = {"test": {"accuracy": 0.912, "loss": 0.41}, "epochs": []}


def test_min_gate_passes_and_fails() -> None:
    gate = Gate("test", "accuracy", "min", 0.95)
    assert gate.check(METRICS) == "test.accuracy 0.912 is below the gate 0.95"
    assert gate.check({"test": {"accuracy": 0.95}}) is None
    assert gate.check({"test": {"accuracy": 0.99}}) is None
    assert str(gate) == "test.accuracy ≥ 0.95"


def test_max_gate_passes_and_fails() -> None:
    gate = Gate("test", "loss", "max", 0.3)
    assert gate.check(METRICS) == "test.loss 0.41 is above the gate 0.3"
    assert gate.check({"test": {"loss": 0.3}}) is None
    assert gate.check({"test": {"loss": 0.1}}) is None
    assert str(gate) == "test.loss ≤ 0.3"


def test_a_failing_value_never_prints_as_the_gate() -> None:
    reason = Gate("test", "accuracy", "min", 0.95).check({"test": {"accuracy": 0.9499999}})
    assert reason == "test.accuracy 0.9499999 is below the gate 0.95"


def test_missing_and_non_numeric_metrics_fail() -> None:
    gate = Gate("val", "accuracy", "min", 0.5)
    assert gate.check(METRICS) == "val.accuracy is missing from metrics.json"
    assert gate.check({"val": 0.9}) == "val.accuracy is missing from metrics.json"
    assert gate.check({"val": {"accuracy": "high"}}) == (
        "val.accuracy is 'high' in metrics.json, not a number"
    )
    assert gate.check({"val": {"accuracy": float("nan")}}) is not None
    assert gate.check({"val": {"accuracy": True}}) is not None


def test_flat_metric_keys_are_read_too() -> None:
    assert Gate("test", "accuracy", "min", 0.5).check({"test.accuracy": 0.9}) is None


def test_yaml_syntax_error_names_the_line(root: Path) -> None:
    declare(root, "m.yaml", "name: m\npath: [unclosed\n  x: : :\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/models/m.yaml", "line 4")
    assert "YAML syntax error" in problem.reason


def test_unknown_type(root: Path) -> None:
    declare(root, "m.yaml", "name: m\ntype: keras\npath: ../../outputs/m\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/models/m.yaml", "type")
    assert "'keras'" in problem.reason
    assert "custom_model, mlflow_model, triton_model" in problem.reason


@pytest.mark.parametrize(
    "key",
    ["mlstack.min.accuracy", "mlstack.least.test.accuracy", "mlstack.min.test.top.5", "mlstack.x"],
)
def test_bad_gate_keys_say_the_convention(root: Path, key: str) -> None:
    declare(root, "m.yaml", valid(extra=f"properties:\n  {key}: 0.5\n"))
    problem = only_problem(root)
    assert problem.field == f"properties.{key}"
    assert "mlstack.min.<split>.<metric>" in problem.reason


@pytest.mark.parametrize("value", ["high", "'nan'", "'inf'"])
def test_non_numeric_gate_values_say_the_convention(root: Path, value: str) -> None:
    declare(root, "m.yaml", valid(extra=f"properties:\n  mlstack.min.test.accuracy: {value}\n"))
    problem = only_problem(root)
    assert problem.field == "properties.mlstack.min.test.accuracy"
    assert "is not a number" in problem.reason and "mlstack.min.<split>.<metric>" in problem.reason


def test_property_values_must_be_scalars(root: Path) -> None:
    declare(root, "m.yaml", valid(extra="properties:\n  owner: [a, b]\n"))
    problem = only_problem(root)
    assert problem.field == "properties.owner" and "quote it" in problem.reason


def test_contradicting_gates(root: Path) -> None:
    gates = "  mlstack.min.test.accuracy: 0.9\n  mlstack.max.test.accuracy: 0.8\n"
    declare(root, "m.yaml", valid(extra=f"properties:\n{gates}"))
    problem = only_problem(root)
    assert problem.field == "properties.mlstack.min.test.accuracy"
    assert "no model can pass" in problem.reason


@pytest.mark.parametrize(
    "remote",
    [
        "azureml:digits-cnn:1",
        "azureml://datastores/d/paths/m",
        "https://a.blob.core.windows.net/c/m",
    ],
)
def test_remote_paths_are_not_supported_yet(root: Path, remote: str) -> None:
    declare(root, "m.yaml", f"name: m\npath: {remote}\n")
    problem = only_problem(root)
    assert problem.field == "path"
    assert "is remote, which is not supported for declared models yet" in problem.reason


def test_missing_path(root: Path) -> None:
    declare(root, "m.yaml", "name: m\n")
    problem = only_problem(root)
    assert problem.field == "path" and "missing: add `path:`" in problem.reason


def test_path_outside_the_project(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    declare(root, "m.yaml", f"name: m\npath: {elsewhere / 'model'}\n")
    problem = only_problem(root)
    assert problem.field == "path" and "outside the project root" in problem.reason


@pytest.mark.parametrize("name", ["-m", "m.", "a b"])
def test_invalid_names(root: Path, name: str) -> None:
    declare(root, "m.yaml", valid(name=f"'{name}'"))
    problem = only_problem(root)
    assert problem.field == "name" and "is not a valid asset name" in problem.reason


def test_missing_name(root: Path) -> None:
    declare(root, "m.yaml", "path: ../../outputs/m\n")
    problem = only_problem(root)
    assert problem.field == "name" and "missing: add `name:`" in problem.reason


@pytest.mark.parametrize("version", ["0", "v1", "latest"])
def test_versions_must_be_positive_integers(root: Path, version: str) -> None:
    declare(root, "m.yaml", valid(extra=f"version: '{version}'\n"))
    problem = only_problem(root)
    assert problem.field == "version" and "is not a positive integer" in problem.reason


def test_unknown_key(root: Path) -> None:
    declare(root, "m.yaml", valid(extra="gates: {}\n"))
    problem = only_problem(root)
    assert problem.field == "gates" and "model schema" in problem.reason


def test_duplicate_names_and_all_problems_at_once(root: Path) -> None:
    declare(root, "a.yaml", valid(name="cnn"))
    declare(root, "b.yaml", valid(name="CNN", extra="version: x\n"))
    declare(root, "c.yaml", "name: c\n")
    problems = problems_of(root)
    assert [(p.file, p.field) for p in problems] == [
        ("assets/models/b.yaml", "version"),
        ("assets/models/c.yaml", "path"),
        ("assets/models/b.yaml", "name"),
    ]
    assert "also declared in assets/models/a.yaml" in problems[-1].reason
    assert "each model" in problems[-1].reason


def test_the_shipped_model_loads_before_and_after_training(tmp_path: Path) -> None:
    shutil.copytree(REPO / "assets" / "models", tmp_path / "assets" / "models")
    (spec,) = load_model_specs(tmp_path)
    assert (spec.name, spec.type, spec.path) == (
        "digits-cnn",
        "custom_model",
        (tmp_path / "outputs" / "digits-cnn").resolve(),
    )
    assert [str(g) for g in spec.gates] == ["test.accuracy ≥ 0.95"]
    spec.path.mkdir(parents=True)
    (spec.path / "metrics.json").write_text(json.dumps({"test": {"accuracy": 0.97}}))
    metrics = json.loads((spec.path / "metrics.json").read_text())
    assert [g.check(metrics) for g in load_model_specs(tmp_path)[0].gates] == [None]


def test_model_card_text_is_read_from_its_properties(root: Path) -> None:
    card = "  mlstack.intended_use: '  Digits. '\n  mlstack.limitations: >-\n    Not letters;\n"
    declare(root, "m.yaml", valid(extra=f"properties:\n{card}    not photos.\n"))
    (spec,) = load_model_specs(root)
    assert (spec.intended_use, spec.limitations) == ("Digits.", "Not letters; not photos.")
    assert spec.gates == ()


def test_model_card_text_is_optional(root: Path) -> None:
    declare(root, "m.yaml", valid())
    (spec,) = load_model_specs(root)
    assert (spec.intended_use, spec.limitations) == ("", "")


@pytest.mark.parametrize("value", ["0.5", "''", "'   '"])
def test_model_card_text_must_be_text(root: Path, value: str) -> None:
    declare(root, "m.yaml", valid(extra=f"properties:\n  mlstack.limitations: {value}\n"))
    problem = only_problem(root)
    assert problem.field == "properties.mlstack.limitations"
    assert "is not text" in problem.reason and "'limitations'" in problem.reason


def test_the_shipped_model_declares_its_card_text(tmp_path: Path) -> None:
    shutil.copytree(REPO / "assets" / "models", tmp_path / "assets" / "models")
    for spec in load_model_specs(tmp_path):
        assert spec.intended_use and spec.limitations, spec.file


@pytest.mark.parametrize(
    ("key", "value", "gate"),
    [("mlstack.min.test.accuracy", "0.95", Gate("test", "accuracy", "min", 0.95)),
     ("mlstack.max.val.loss", 0.3, Gate("val", "loss", "max", 0.3)),
     ("mlstack.min.accuracy", 0.9, None), ("mlstack.min.test.accuracy", "high", None),
     ("mlstack.min.test.accuracy", True, None)],
)  # fmt: skip
def test_parse_gate(key: str, value: object, gate: Gate | None) -> None:
    assert parse_gate(key, value) == gate
