"""Component specs: azure-ai-ml's loader, mlstack's rules, and a digest over the parsed spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlstack.config.components import component_digest, load_component_specs, spec_changes
from mlstack.errors import ConfigError

SPEC = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
# a comment
type: command
name: score
description: Score a folder.
code: ../../code
environment: azureml:env@latest
command: >-
  python score.py --data ${{inputs.data}}
  --out ${{outputs.out}}
inputs:
  data:
    type: uri_folder
  limit:
    type: integer
    default: 3
outputs:
  out:
    type: uri_folder
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text("print('hi')\n")
    (tmp_path / "assets" / "components").mkdir(parents=True)
    return tmp_path


def write(root: Path, text: str, name: str = "score.yaml") -> Path:
    file = root / "assets" / "components" / name
    file.write_text(text)
    return file


def test_a_command_component_is_read_in_canonical_form(root: Path) -> None:
    write(root, SPEC)
    (spec,) = load_component_specs(root)
    assert spec.name == "score"
    assert spec.code == root / "code"
    assert spec.spec == {
        "type": "command",
        "command": "python score.py --data ${{inputs.data}} --out ${{outputs.out}}",
        "environment": "azureml:env@latest",
        "inputs": {"data": {"type": "uri_folder"}, "limit": {"type": "integer", "default": 3}},
        "outputs": {"out": {"type": "uri_folder"}},
        "is_deterministic": True,
    }


def test_the_shipped_train_component_loads(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    spec = {s.name: s for s in load_component_specs(root)}["train_digits"]
    assert spec.code == root / "training"
    assert spec.spec["environment"] == "azureml:digits-env@latest"


def test_a_reformat_keeps_the_digest_and_a_real_change_does_not(root: Path) -> None:
    write(root, SPEC)
    (before,) = load_component_specs(root)
    reformatted = yaml.safe_dump(yaml.safe_load(SPEC), sort_keys=True, width=4096)
    write(root, reformatted)
    (after,) = load_component_specs(root)
    assert after.spec_digest == before.spec_digest
    write(root, SPEC.replace("default: 3", "default: 4"))
    (changed,) = load_component_specs(root)
    assert changed.spec_digest != before.spec_digest
    code = "sha256:" + "0" * 64
    assert component_digest(before.spec, code) == component_digest(after.spec, code)
    assert component_digest(before.spec, code) != component_digest(
        before.spec, "sha256:" + "1" * 64
    )


def test_every_problem_of_every_file_is_reported_at_once(root: Path) -> None:
    write(root, SPEC.replace("name: score", "name: bad-name").replace("../../code", "../../nope"))
    write(root, SPEC.replace("type: integer", "type: intger"), "typo.yaml")
    with pytest.raises(ConfigError) as raised:
        load_component_specs(root)
    found = {(p.file, p.field) for p in raised.value.problems}
    assert found == {
        ("assets/components/score.yaml", "name"),
        ("assets/components/score.yaml", "code"),
        ("assets/components/typo.yaml", "inputs.limit"),
    }
    reasons = {p.field: p.reason for p in raised.value.problems}
    assert "not a folder" in reasons["code"]
    assert "underscores" in reasons["name"]


def test_an_inline_environment_and_a_pinned_version_are_checked(root: Path) -> None:
    text = SPEC.replace("environment: azureml:env@latest", "environment:\n  image: python:3.11")
    write(root, text.replace("type: command\n", "type: command\nversion: '0'\n"))
    with pytest.raises(ConfigError) as raised:
        load_component_specs(root)
    fields = {p.field for p in raised.value.problems}
    assert fields == {"environment", "version"}


def test_two_files_with_one_name_are_a_problem(root: Path) -> None:
    write(root, SPEC)
    write(root, SPEC, "twin.yaml")
    with pytest.raises(ConfigError) as raised:
        load_component_specs(root)
    (problem,) = raised.value.problems
    assert problem.file == "assets/components/twin.yaml" and problem.field == "name"


def test_the_change_summary_names_ports_and_fields() -> None:
    old = {"command": "a", "inputs": {"x": {"type": "integer"}, "y": {"type": "string"}},
           "outputs": {}, "environment": "azureml:e@latest"}  # fmt: skip
    new = {"command": "b", "inputs": {"x": {"type": "number"}, "threshold": {"type": "number"}},
           "outputs": {}, "environment": "azureml:e@latest"}  # fmt: skip
    assert spec_changes(old, new) == ["inputs: +threshold, -y, ~x", "command changed"]
    assert spec_changes(old, old) == []


def test_whitespace_inside_the_command_is_part_of_it(root: Path) -> None:
    """Folding the YAML line is layout; spaces inside an argument are what runs."""
    write(root, SPEC.replace("--out ${{outputs.out}}", "--out ${{outputs.out}} --tag 'a b'"))
    (before,) = load_component_specs(root)
    write(root, SPEC.replace("--out ${{outputs.out}}", "--out ${{outputs.out}} --tag 'a  b'"))
    (after,) = load_component_specs(root)
    assert after.spec_digest != before.spec_digest
