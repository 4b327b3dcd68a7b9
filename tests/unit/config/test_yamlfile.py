"""Duplicate keys: refused with the file, the key and both lines, by every YAML reader."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlstack.config.assets import load_data_specs
from mlstack.config.compute import load_compute_specs
from mlstack.config.endpoints import load_endpoint_specs
from mlstack.config.environments import load_environment_specs
from mlstack.config.models import load_model_specs
from mlstack.config.stack import stack_values
from mlstack.config.yamlfile import DuplicateKey, load_yaml, parse
from mlstack.errors import ConfigError, Problem
from mlstack.jobs.spec import load_spec
from mlstack.project import Project
from mlstack.promotion import promote
from mlstack.stack import Stack

REPO = Path(__file__).resolve().parents[3]
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"


def problems(load: Callable[[], Any]) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load()
    return caught.value.problems


def test_the_key_its_path_and_both_lines_are_found() -> None:
    text = "name: a\ntags:\n  stage: dev\n  owner: me\n  stage: prod\nname: b\n"
    value, duplicates = parse(text)
    assert value == {"name": "b", "tags": {"stage": "prod", "owner": "me"}}  # as safe_load
    assert duplicates == [
        DuplicateKey("tags.stage", "stage", 3, 5),
        DuplicateKey("name", "name", 1, 6),
    ]
    assert duplicates[1].reason == (
        "duplicate key 'name' on line 1 and again on line 6: YAML would keep only the last "
        "value; delete one of them"
    )


def test_keys_compare_as_pyyaml_builds_them() -> None:
    # YAML 1.1, as PyYAML (and so azure-ai-ml) reads it: yes is true, 0x1 is 1.
    _, duplicates = parse("a:\n  yes: 1\n  true: 2\nb:\n  1: a\n  0x1: b\n  '1': c\n")
    assert duplicates == [DuplicateKey("a.true", "true", 2, 3), DuplicateKey("b.0x1", "0x1", 5, 6)]


def test_list_items_flow_mappings_and_merges() -> None:
    text = (
        "base: &base {a: 1, b: 2}\n"
        "derived:\n  <<: *base\n  a: 3\n"  # overriding a merged key is what merging is for
        "steps:\n  - {name: x, name: y}\n"
    )
    _, duplicates = parse(text)
    assert duplicates == [DuplicateKey("steps[0].name", "name", 6, 6)]


def test_load_yaml_raises_one_error_with_every_duplicate(tmp_path: Path) -> None:
    file = tmp_path / "f.yaml"
    file.write_text("a: 1\nb: 2\na: 3\nb: 4\n")
    found = problems(lambda: load_yaml(file, "f.yaml"))
    assert [(p.file, p.field) for p in found] == [("f.yaml", "a"), ("f.yaml", "b")]
    assert "line 1 and again on line 3" in found[0].reason
    file.write_text("a: 1\nb: 2\n")
    assert load_yaml(file) == {"a": 1, "b": 2}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for folder in ("data", "models", "environments", "compute", "endpoints"):
        (tmp_path / "assets" / folder).mkdir(parents=True)
    (tmp_path / "data" / "x").mkdir(parents=True)
    (tmp_path / "data" / "x" / "a.txt").write_text("a\n")
    return tmp_path


# kind folder, file body with `name:` written twice (lines 1 and 4), loader
SPECS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "data": ("type: uri_folder\npath: ../../data/x\n", load_data_specs),
    "models": ("type: custom_model\npath: ../../outputs/m\n", load_model_specs),
    "environments": (f"image: {IMAGE}\nconda_file: e.conda.yaml\n", load_environment_specs),
    "compute": ("type: amlcompute\nsize: Standard_DS3_v2\n", load_compute_specs),
    "endpoints": ("auth_mode: key\ntraffic: {}\n", load_endpoint_specs),
}


@pytest.mark.parametrize("kind", SPECS)
def test_every_asset_kind_refuses_a_duplicate_key(root: Path, kind: str) -> None:
    body, load = SPECS[kind]
    (root / "assets" / "environments" / "e.conda.yaml").write_text("dependencies: [pip]\n")
    (root / "assets" / kind / "one.yaml").write_text(f"name: first\n{body}name: second\n")
    (found,) = problems(lambda: load(root))
    assert found.file == f"assets/{kind}/one.yaml"
    assert found.field == "name"
    assert "duplicate key 'name' on line 1 and again on line 4" in found.reason


def test_a_duplicate_is_reported_with_the_other_problems_of_every_file(root: Path) -> None:
    data = root / "assets" / "data"
    (data / "a.yaml").write_text("name: a\ntype: uri_folder\npath: ../../data/x\nname: b\n")
    (data / "b.yaml").write_text("name: c\ntype: uri_folder\npath: ../../data/missing\n")
    (data / "c.yaml").write_text("name: d\ntype: uri_folder\ntags: {t: 1}\ntags: {t: 2}\n")
    found = problems(lambda: load_data_specs(root))
    assert [(p.file, p.field) for p in found] == [
        ("assets/data/a.yaml", "name"),
        ("assets/data/b.yaml", "path"),
        ("assets/data/c.yaml", "tags"),
        ("assets/data/c.yaml", "path"),  # azure-ai-ml's own finding in the same file
    ]


def test_the_shipped_assets_have_no_duplicates_and_still_load(tmp_path: Path) -> None:
    shutil.copytree(REPO / "assets" / "models", tmp_path / "assets" / "models")
    shutil.copytree(REPO / "assets" / "compute", tmp_path / "assets" / "compute")
    assert load_model_specs(tmp_path)
    assert load_compute_specs(tmp_path)


def test_a_conda_file_with_a_duplicate_key_is_reported_on_conda_file(root: Path) -> None:
    folder = root / "assets" / "environments"
    (folder / "e.conda.yaml").write_text("name: e\ndependencies: [pip]\ndependencies: [python]\n")
    (folder / "e.yaml").write_text(f"name: e\nimage: {IMAGE}\nconda_file: e.conda.yaml\n")
    (found,) = problems(lambda: load_environment_specs(root))
    assert (found.file, found.field) == ("assets/environments/e.yaml", "conda_file")
    assert "'e.conda.yaml' dependencies: duplicate key 'dependencies' on line 2" in found.reason


def test_a_stack_file_with_a_duplicate_key(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(
        "config:\n  mlstack:target: local\n  mlstack:container: a-b-c\n  mlstack:target: azure\n"
    )
    for load in (stack_values, lambda root, name: Stack(Project(root), name).config):
        (found,) = problems(lambda load=load: load(tmp_path, "dev"))  # type: ignore[misc]
        assert (found.file, found.field) == ("stacks/Pulumi.dev.yaml", "config.mlstack:target")
        assert "line 2 and again on line 4" in found.reason


def test_a_job_file_with_a_duplicate_key(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: echo one\nenvironment: azureml:e:1\ncommand: echo two\n"
    )
    (found,) = problems(lambda: load_spec(job))
    assert (found.file, found.field) == (str(job), "command")
    assert "line 2 and again on line 4" in found.reason


def test_promotion_and_review_read_stack_files_through_the_check(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.a.yaml").write_text("config:\n  mlstack:target: local\n")
    (tmp_path / "stacks" / "Pulumi.b.yaml").write_text(
        "config:\n  mlstack:target: local\nconfig:\n  mlstack:target: azure\n"
    )
    project = Project(tmp_path)
    for read in (
        lambda: promote(project, "m", source="a", target="b"),
        lambda: Stack(project, "b").target,
    ):
        (found,) = problems(read)
        assert (found.file, found.field) == ("stacks/Pulumi.b.yaml", "config")
        assert "line 1 and again on line 3" in found.reason
