from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlstack.config.assets import DataSpec, asset_name_problem, load_data_specs, version_problem
from mlstack.errors import ConfigError, Problem

REPO = Path(__file__).resolve().parents[3]
SCHEMA = "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project with one non-empty data folder, ``data/x``, and an empty assets/data."""
    (tmp_path / "assets" / "data").mkdir(parents=True)
    (tmp_path / "data" / "x").mkdir(parents=True)
    (tmp_path / "data" / "x" / "a.txt").write_text("a\n")
    return tmp_path


def declare(root: Path, filename: str, body: str) -> Path:
    file = root / "assets" / "data" / filename
    file.write_text(SCHEMA + body)
    return file


def problems_of(root: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_data_specs(root)
    return caught.value.problems


def only_problem(root: Path) -> Problem:
    problems = problems_of(root)
    assert len(problems) == 1, problems
    return problems[0]


def test_a_valid_folder_asset_loads_with_an_absolute_path(root: Path) -> None:
    file = declare(
        root,
        "x.yaml",
        "name: x\ntype: uri_folder\npath: ../../data/x\ndescription: some x\n"
        "tags: {split: train, n: 3}\n",
    )
    (spec,) = load_data_specs(root)
    assert spec == DataSpec(
        name="x",
        type="uri_folder",
        path=(root / "data" / "x").resolve(),
        description="some x",
        tags={"split": "train", "n": "3"},
        version=None,
        file=file.resolve(),
    )
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "y"  # type: ignore[misc]


def test_uri_file_yml_and_pinned_version(root: Path) -> None:
    declare(root, "a.yml", "name: a.file\ntype: uri_file\npath: ../../data/x/a.txt\nversion: 7\n")
    (spec,) = load_data_specs(root)
    assert (spec.type, spec.version, spec.path.name) == ("uri_file", "7", "a.txt")


def test_files_load_in_name_order_and_no_folder_means_no_assets(root: Path) -> None:
    declare(root, "b.yaml", "name: b\npath: ../../data/x\n")
    declare(root, "a.yaml", "name: a\npath: ../../data/x\n")
    assert [s.name for s in load_data_specs(root)] == ["a", "b"]
    assert load_data_specs(root / "data") == ()


def test_yaml_syntax_error_names_the_line(root: Path) -> None:
    declare(root, "bad.yaml", "name: a\ntype: uri_folder\npath: [unclosed\n  x: : :\n")
    problem = only_problem(root)
    assert problem.file == "assets/data/bad.yaml"
    assert problem.field == "line 5"  # the $schema line comes first
    assert "YAML syntax error" in problem.reason and "expected ','" in problem.reason


def test_empty_file(root: Path) -> None:
    (root / "assets" / "data" / "empty.yaml").write_text("")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/data/empty.yaml", "")
    assert "the file is empty" in problem.reason


def test_a_list_instead_of_a_mapping(root: Path) -> None:
    (root / "assets" / "data" / "list.yaml").write_text("- name: a\n- path: x\n")
    assert "not a mapping" in only_problem(root).reason


def test_a_file_that_is_not_utf8(root: Path) -> None:
    (root / "assets" / "data" / "latin.yaml").write_bytes(b"name: caf\xe9\npath: x\n")
    problem = only_problem(root)
    assert problem.file == "assets/data/latin.yaml"
    assert "save it as UTF-8" in problem.reason


def test_unknown_type_is_azure_ml_s_message(root: Path) -> None:
    declare(root, "t.yaml", "name: t\ntype: folder\npath: ../../data/x\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/data/t.yaml", "type")
    assert "Must be one of: uri_file, uri_folder, mltable" in problem.reason
    assert "mlstack supports uri_folder and uri_file" in problem.reason


def test_mltable_is_valid_for_azure_ml_but_not_supported_yet(root: Path) -> None:
    declare(root, "t.yaml", "name: t\ntype: mltable\npath: ../../data/x\n")
    problem = only_problem(root)
    assert problem.field == "type"
    assert "'mltable' is not supported by mlstack yet" in problem.reason


def test_missing_path(root: Path) -> None:
    declare(root, "p.yaml", "name: p\ntype: uri_folder\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/data/p.yaml", "path")
    assert "missing: add `path:`" in problem.reason


def test_path_that_does_not_exist(root: Path) -> None:
    declare(root, "p.yaml", "name: p\npath: ../../data/nope\n")
    problem = only_problem(root)
    assert problem.field == "path"
    assert "does not exist: create it" in problem.reason


def test_path_outside_the_project(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "f.txt").write_text("f")
    declare(root, "p.yaml", f"name: p\npath: {elsewhere}\n")
    problem = only_problem(root)
    assert problem.field == "path"
    assert "outside the project root" in problem.reason


def test_symlink_leaving_the_project_is_outside(
    root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "f.txt").write_text("f")
    (root / "data" / "link").symlink_to(elsewhere, target_is_directory=True)
    declare(root, "p.yaml", "name: p\npath: ../../data/link\n")
    assert "outside the project root" in only_problem(root).reason


def test_folder_asset_pointing_at_a_file(root: Path) -> None:
    declare(root, "p.yaml", "name: p\ntype: uri_folder\npath: ../../data/x/a.txt\n")
    problem = only_problem(root)
    assert problem.field == "path"
    assert "is a file, not a folder: use `type: uri_file`" in problem.reason


def test_file_asset_pointing_at_a_folder(root: Path) -> None:
    declare(root, "p.yaml", "name: p\ntype: uri_file\npath: ../../data/x\n")
    assert "is a folder, not a file" in only_problem(root).reason


def test_empty_folder_even_with_empty_subfolders(root: Path) -> None:
    (root / "data" / "empty" / "sub").mkdir(parents=True)
    declare(root, "p.yaml", "name: p\npath: ../../data/empty\n")
    problem = only_problem(root)
    assert problem.field == "path"
    assert "is an empty folder" in problem.reason


@pytest.mark.parametrize(
    "remote",
    [
        "azureml://datastores/workspaceblobstore/paths/x/",
        "https://example.com/data/",
        "wasbs://c@account.blob.core.windows.net/x",
    ],
)
def test_remote_paths_are_not_supported_yet(root: Path, remote: str) -> None:
    declare(root, "p.yaml", f"name: p\npath: {remote}\n")
    problem = only_problem(root)
    assert problem.field == "path"
    assert "is remote, which is not supported for declared assets yet" in problem.reason


@pytest.mark.parametrize("name", ["-lead", "has space", "trail.", "x" * 256, "a/b"])
def test_invalid_names(root: Path, name: str) -> None:
    declare(root, "n.yaml", f"name: '{name}'\npath: ../../data/x\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/data/n.yaml", "name")
    assert "is not a valid asset name" in problem.reason


def test_missing_name_is_a_problem_not_a_random_name(root: Path) -> None:
    declare(root, "n.yaml", "path: ../../data/x\n")
    problem = only_problem(root)
    assert problem.field == "name"
    assert "missing: add `name:`" in problem.reason


@pytest.mark.parametrize("name", ["a", "digits-train", "A_1.b-2", "9lives", "x" * 255])
def test_valid_names(name: str) -> None:
    assert asset_name_problem(name) is None


@pytest.mark.parametrize("version", ["abc", "0", "1.5", "-1", "01", "latest"])
def test_versions_must_be_positive_integers(root: Path, version: str) -> None:
    declare(root, "v.yaml", f"name: v\npath: ../../data/x\nversion: '{version}'\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/data/v.yaml", "version")
    assert "is not a positive integer" in problem.reason
    assert version_problem("12") is None


def test_tag_values_must_be_text(root: Path) -> None:
    declare(root, "t.yaml", "name: t\npath: ../../data/x\ntags: {ok: yes-it-is, bad: [1]}\n")
    problem = only_problem(root)
    assert problem.field == "tags.bad"
    assert "quote it" in problem.reason


def test_unknown_key_is_azure_ml_s_verdict(root: Path) -> None:
    declare(root, "k.yaml", "name: k\npath: ../../data/x\ndescripton: typo\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/data/k.yaml", "descripton")
    assert "Unknown field." in problem.reason and "correct its spelling" in problem.reason


def test_duplicate_names_name_both_files(root: Path) -> None:
    declare(root, "a.yaml", "name: same\npath: ../../data/x\n")
    declare(root, "b.yaml", "name: Same\npath: ../../data/x\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/data/b.yaml", "name")
    assert "also declared in assets/data/a.yaml" in problem.reason


def test_duplicate_is_found_even_when_the_file_has_other_problems(root: Path) -> None:
    declare(root, "a.yaml", "name: same\npath: ../../data/x\n")
    declare(root, "b.yaml", "name: same\npath: ../../data/nope\n")
    assert {(p.file, p.field) for p in problems_of(root)} == {
        ("assets/data/b.yaml", "path"),
        ("assets/data/b.yaml", "name"),
    }


def test_every_problem_of_every_file_in_one_error(root: Path) -> None:
    declare(root, "a.yaml", "name: -a\npath: ../../data/nope\nversion: x\n")
    declare(root, "b.yaml", "name: b\ntype: uri_folder\npath: ../../data/x\nbogus: 1\n")
    declare(root, "c.yaml", "name: c\npath: ../../data/x\n")
    with pytest.raises(ConfigError) as caught:
        load_data_specs(root)
    found = {(p.file, p.field) for p in caught.value.problems}
    assert found == {
        ("assets/data/a.yaml", "name"),
        ("assets/data/a.yaml", "version"),
        ("assets/data/a.yaml", "path"),
        ("assets/data/b.yaml", "bogus"),
    }
    assert str(caught.value).startswith("4 problems in the configuration:")


def test_an_explicit_folder(root: Path) -> None:
    other = root / "elsewhere"
    other.mkdir()
    (other / "o.yaml").write_text("name: o\npath: ../data/x\n")
    (spec,) = load_data_specs(root, other)
    assert spec.path == (root / "data" / "x").resolve()


def test_the_shipped_assets_load_once_their_data_exists(tmp_path: Path) -> None:
    shutil.copytree(REPO / "assets" / "data", tmp_path / "assets" / "data")
    for split in ("train", "val", "test"):
        folder = tmp_path / "data" / "digits" / split / "0"
        folder.mkdir(parents=True)
        (folder / "0.png").write_bytes(b"png")
    specs = load_data_specs(tmp_path)
    assert {s.name: s.path for s in specs} == {
        f"digits-{split}": (tmp_path / "data" / "digits" / split).resolve()
        for split in ("train", "val", "test")
    }
    assert all(s.type == "uri_folder" and s.version is None for s in specs)
    assert {s.tags["split"] for s in specs} == {"train", "val", "test"}
