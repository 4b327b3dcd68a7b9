"""Each step's component made exact; bindings checked against its ports before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.content.hashcache import NoCache
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.errors import ConfigError
from mlstack.jobs.pipeline.component import resolve_components
from mlstack.jobs.pipeline.spec import load_pipeline
from mlstack.workspace.local import LocalWorkspace

PREP = """\
type: command
name: prep
code: ./prep
environment: azureml:env@latest
is_deterministic: true
command: >-
  python prep.py --raw ${{inputs.raw}} --limit ${{inputs.limit}} --out ${{outputs.table}}
inputs:
  raw: {type: uri_folder}
  limit: {type: integer, default: 10}
  note: {type: string, optional: true}
outputs:
  table: {type: uri_folder}
  report: {type: uri_file}
"""
CODE = Manifest.of([FileEntry("train.py", 12, "a" * 64)])
TRAIN = {
    "type": "command", "command": "python train.py --data ${{inputs.data}}",
    "environment": "azureml:env@latest", "is_deterministic": True,
    "inputs": {"data": {"type": "uri_folder"}, "epochs": {"type": "integer", "default": "3"}},
    "outputs": {"model": {"type": "custom_model"}},
}  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "prep").mkdir()
    (tmp_path / "prep" / "prep.py").write_text("print('prep')\n")
    (tmp_path / "prep.yaml").write_text(PREP)
    return tmp_path


@pytest.fixture
def workspace(tmp_path: Path) -> LocalWorkspace:
    ws = LocalWorkspace.at(tmp_path / ".mlstack", "unit", "mlstack-unit")
    with ws.catalog.transaction(write=True, create=True) as db:
        db.execute("INSERT INTO workspace VALUES (1, 'mlw-unit', 'mlstack-unit', 'unit', '{}', "
                   "'2025-01-01T00:00:00+00:00')")  # fmt: skip
    for digest in "12":
        ws.components.register(
            "train", type_="command", uri="azureml://datastores/d/paths/x/",
            digest="sha256:" + digest * 64, manifest=CODE,
            properties={"spec": TRAIN, "code_digest": CODE.digest},
        )  # fmt: skip
    return ws


def _pipeline(folder: Path, jobs: str, outputs: str = "") -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(
        "type: pipeline\ninputs:\n  raw: {type: uri_folder, path: azureml:raw@latest}\n"
        f"  n: 5\n  word: many\n{outputs}jobs:\n{jobs}"
    )
    return path


GOOD = """\
  prep:
    type: command
    component: ./prep.yaml
    inputs: {raw: "${{parent.inputs.raw}}", limit: "${{parent.inputs.n}}"}
  train:
    type: command
    component: azureml:train@latest
    inputs: {data: "${{parent.jobs.prep.outputs.table}}", epochs: 4}
    outputs: {model: "${{parent.outputs.model}}"}
"""


def test_file_and_registered_components_resolve(project: Path, workspace: LocalWorkspace) -> None:
    spec = load_pipeline(_pipeline(project, GOOD, "outputs:\n  model: {type: custom_model}\n"))
    found = resolve_components(spec, workspace.components, project, NoCache())
    assert (found["train"].name, found["train"].version) == ("train", "2")
    assert found["train"].digest == "sha256:" + "2" * 64 and found["train"].code is None
    prep = found["prep"]
    assert (prep.name, prep.version, prep.code) == ("prep", None, project / "prep")
    assert prep.inputs["limit"].default is not None and prep.inputs["note"].optional
    assert prep.outputs["report"].type == "uri_file"


def test_a_file_component_registered_with_the_same_content_is_named_by_its_version(
    project: Path, workspace: LocalWorkspace
) -> None:
    spec = load_pipeline(_pipeline(project, GOOD, "outputs:\n  model: {type: custom_model}\n"))
    digest = resolve_components(spec, workspace.components, project, NoCache())["prep"].digest
    workspace.components.register(
        "prep", type_="command", uri="azureml://datastores/d/paths/p/", digest=digest,
        manifest=CODE, properties={"spec": {}, "code_digest": CODE.digest},
    )  # fmt: skip
    found = resolve_components(spec, workspace.components, project, NoCache())
    assert found["prep"].version == "1" and found["prep"].label == "prep:1"
    (project / "prep" / "prep.py").write_text("print('changed')\n")
    changed = resolve_components(spec, workspace.components, project, NoCache())["prep"]
    assert changed.version is None and changed.digest != digest


def _problems(spec_path: Path, workspace: LocalWorkspace | None, root: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        resolve_components(load_pipeline(spec_path), workspace and workspace.components, root,
                           NoCache())  # fmt: skip
    return "\n".join(str(p) for p in caught.value.problems)


def test_unbound_unknown_and_mismatched_ports_are_reported_together(
    project: Path, workspace: LocalWorkspace
) -> None:
    jobs = """\
  prep:
    type: command
    component: ./prep.yaml
    inputs: {limit: "${{parent.inputs.word}}", colour: red}
    outputs: {nothing: "${{parent.outputs.model}}"}
  train:
    type: command
    component: azureml:train:1
    inputs: {data: "${{parent.jobs.prep.outputs.report}}", epochs: "${{parent.inputs.raw}}"}
  last:
    type: command
    component: azureml:train:1
    inputs: {data: "${{parent.jobs.train.outputs.model}}"}
    outputs: {model: "${{parent.outputs.table}}"}
  ghost:
    type: command
    component: azureml:train:1
    inputs: {data: "${{parent.jobs.prep.outputs.missing}}"}
"""
    outputs = "outputs:\n  model: {type: uri_folder}\n  table: {type: uri_folder}\n  spare: {}\n"
    said = _problems(_pipeline(project, jobs, outputs), workspace, project)
    assert "jobs.prep.inputs.raw: is not bound: component prep" in said
    assert "jobs.prep.inputs.colour: component prep" in said and "has no input 'colour'" in said
    assert "jobs.prep.inputs.limit: type mismatch: 'many' is not a valid integer" in said
    assert "jobs.prep.outputs.nothing" in said and "has no output 'nothing'" in said
    assert ("jobs.train.inputs.data: type mismatch: ${{parent.jobs.prep.outputs.report}} is "
            "uri_file but component train:1 takes uri_folder") in said  # fmt: skip
    assert "jobs.train.inputs.epochs: type mismatch: ${{parent.inputs.raw}} is uri_folder" in said
    assert "jobs.last.inputs.data: type mismatch" in said and "custom_model" in said
    assert ("jobs.last.outputs.model: type mismatch: the step writes custom_model but pipeline "
            "output 'table' is uri_folder") in said  # fmt: skip
    assert "jobs.ghost.inputs.data" in said and "has no output 'missing'" in said
    assert "outputs.spare: is bound by no step" in said
    assert "jobs.prep.inputs.note" not in said  # optional
    assert "jobs.train.inputs.epochs: is not bound" not in said  # has a default


def test_unknown_or_archived_versions_and_no_workspace(
    project: Path, workspace: LocalWorkspace
) -> None:
    jobs = """\
  a:
    type: command
    component: azureml:train:7
    inputs: {data: "${{parent.inputs.raw}}"}
  b:
    type: command
    component: azureml:nothing@latest
    inputs: {data: "${{parent.inputs.raw}}"}
  c:
    type: command
    component: azureml:train:1
    inputs: {data: "${{parent.inputs.raw}}"}
"""
    workspace.components.set_archived("train", "1", True)
    said = _problems(_pipeline(project, jobs), workspace, project)
    assert "jobs.a.component: azureml:train:7" in said
    assert "registered versions: 1 (archived), 2" in said and "pulumi up" in said
    assert "jobs.b.component: azureml:nothing@latest" in said
    assert "jobs.c.component: azureml:train:1: train:1 is archived" in said
    assert "mlstack component restore train:1" in said
    none = _problems(_pipeline(project, jobs), None, project)
    assert "the stack has no workspace yet; run `pulumi up` first" in none
