"""Pipeline YAML → steps and bindings; structural problems reported before anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.errors import ConfigError
from mlstack.jobs.pipeline.spec import Binding, load_pipeline
from mlstack.jobs.spec import AssetInput

COMPONENT = """\
type: command
name: {name}
code: .
environment: azureml:env@latest
command: echo ${{{{inputs.a}}}} > ${{{{outputs.out}}}}/x
inputs:
  a: {{type: uri_folder}}
outputs:
  out: {{type: uri_folder}}
"""


def _write(folder: Path, body: str, name: str = "pipeline.yaml") -> Path:
    (folder / "one.yaml").write_text(COMPONENT.format(name="one"))
    path = folder / name
    path.write_text(body)
    return path


PIPELINE = """\
type: pipeline
display_name: demo
settings:
  default_compute: azureml:cpu-cluster
  force_rerun: true
inputs:
  raw: {type: uri_folder, path: azureml:digits-train@latest}
  epochs: 3
outputs:
  final: {type: uri_folder, name: digits-final}
jobs:
  prep:
    type: command
    component: azureml:prep_digits:2
    inputs:
      train: ${{parent.inputs.raw}}
  train:
    type: command
    component: azureml:train_digits@latest
    inputs:
      train: ${{parent.jobs.prep.outputs.train}}
      epochs: ${{parent.inputs.epochs}}
      seed: 7
      extra: {type: uri_folder, path: azureml:digits-val:1}
  other:
    type: command
    component: file:one.yaml
    inputs:
      a: ${{parent.inputs.raw}}
  last:
    type: command
    component: ./one.yaml
    inputs:
      a: ${{parent.jobs.train.outputs.model}}
    outputs:
      out: ${{parent.outputs.final}}
"""


def test_steps_bindings_and_order(tmp_path: Path) -> None:
    spec = load_pipeline(_write(tmp_path, PIPELINE))
    assert spec.levels() == [["other", "prep"], ["train"], ["last"]]
    assert spec.downstream("prep") == {"train", "last"}
    assert spec.compute == "azureml:cpu-cluster" and spec.force_rerun
    assert spec.inputs == {"raw": AssetInput("uri_folder", "azureml:digits-train@latest"),
                           "epochs": 3}  # fmt: skip
    assert spec.outputs["final"].name == "digits-final"
    train = spec.steps["train"]
    assert (train.component.name, train.component.version) == ("train_digits", None)
    assert spec.steps["prep"].component.version == "2"
    assert train.inputs == {
        "train": Binding("step", source="prep", port="train"),
        "epochs": Binding("parent", source="epochs"),
        "seed": Binding("literal", value=7),
        "extra": Binding("data", data=AssetInput("uri_folder", "azureml:digits-val:1")),
    }
    assert spec.steps["other"].component.file == tmp_path / "one.yaml"
    assert spec.steps["last"].component.file == tmp_path / "one.yaml"
    assert spec.steps["last"].outputs == {"out": "final"}


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_pipeline(path)
    return [str(p) for p in caught.value.problems]


def test_a_cycle_is_named_step_by_step(tmp_path: Path) -> None:
    body = """\
type: pipeline
jobs:
  a:
    type: command
    component: ./one.yaml
    inputs: {a: "${{parent.jobs.c.outputs.out}}"}
  b:
    type: command
    component: ./one.yaml
    inputs: {a: "${{parent.jobs.a.outputs.out}}"}
  c:
    type: command
    component: ./one.yaml
    inputs: {a: "${{parent.jobs.b.outputs.out}}"}
"""
    [problem] = _problems(_write(tmp_path, body))
    assert "jobs: the steps form a cycle" in problem
    assert all(f"jobs.{n}" in problem for n in "abc")


def test_unknown_names_are_reported_together(tmp_path: Path) -> None:
    body = """\
type: pipeline
inputs:
  raw: {type: uri_folder, path: ./data}
outputs:
  final: {type: uri_folder}
jobs:
  a:
    type: command
    component: ./one.yaml
    inputs:
      a: ${{parent.inputs.nope}}
    outputs:
      out: ${{parent.outputs.absent}}
  b:
    type: command
    component: azureml:one
    inputs:
      a: ${{parent.jobs.zzz.outputs.out}}
    outputs:
      out: ${{parent.outputs.final}}
  c:
    type: command
    component: ./one.yaml
    inputs:
      a: ${{parent.jobs.c.outputs.out}}
    outputs:
      out: ${{parent.outputs.final}}
"""
    problems = "\n".join(_problems(_write(tmp_path, body)))
    assert "jobs.a.inputs.a: ${{parent.inputs.nope}} names no pipeline input" in problems
    assert "jobs.a.outputs.out" in problems and "no output 'absent'" in problems
    assert "jobs.b.inputs.a: ${{parent.jobs.zzz.outputs.out}} names no step" in problems
    assert "jobs.c.inputs.a" in problems and "cannot read its own output" in problems
    assert "jobs.c.outputs.out: pipeline output 'final' is already bound" in problems


def test_only_pipelines_load(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("type: command\ncommand: echo hi\nenvironment: azureml:env:1\n")
    [problem] = _problems(path)
    assert "'command' is not a pipeline job" in problem


def test_a_missing_component_file_is_named(tmp_path: Path) -> None:
    body = "type: pipeline\njobs:\n  a:\n    type: command\n    component: ./missing.yaml\n"
    [problem] = _problems(_write(tmp_path, body))
    assert f"jobs.a.component: {tmp_path / 'missing.yaml'} is not a file" in problem
