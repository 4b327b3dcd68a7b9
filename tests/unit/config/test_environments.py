from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlstack.config.environments import (
    EnvironmentSpec,
    is_conda_file,
    load_environment_specs,
)
from mlstack.errors import ConfigError, Problem

REPO = Path(__file__).resolve().parents[3]
SCHEMA = "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
CONDA = "name: e\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project with assets/environments holding one conda file, ``e.conda.yaml``."""
    folder = tmp_path / "assets" / "environments"
    folder.mkdir(parents=True)
    (folder / "e.conda.yaml").write_text(CONDA)
    return tmp_path


def declare(root: Path, filename: str, body: str) -> Path:
    file = root / "assets" / "environments" / filename
    file.write_text(SCHEMA + body)
    return file


def valid(name: str = "e", extra: str = "") -> str:
    return f"name: {name}\nimage: {IMAGE}\nconda_file: e.conda.yaml\n{extra}"


def problems_of(root: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_environment_specs(root)
    return caught.value.problems


def only_problem(root: Path) -> Problem:
    problems = problems_of(root)
    assert len(problems) == 1, problems
    return problems[0]


def test_a_valid_environment_loads_with_its_parsed_conda_spec(root: Path) -> None:
    file = declare(root, "e.yaml", valid(extra="description: d\ntags: {a: b, n: 2}\nversion: 3\n"))
    (spec,) = load_environment_specs(root)
    assert spec == EnvironmentSpec(
        name="e",
        image=IMAGE,
        conda={"name": "e", "channels": ["conda-forge"], "dependencies": ["python=3.11", "pip"]},
        conda_file=(root / "assets" / "environments" / "e.conda.yaml").resolve(),
        description="d",
        tags={"a": "b", "n": "2"},
        version="3",
        file=file.resolve(),
    )
    assert spec.digest.startswith("sha256:") and len(spec.digest) == 7 + 64
    with pytest.raises(ValueError, match="frozen"):
        spec.image = "x"  # type: ignore[misc]


def test_conda_files_are_told_apart_by_name() -> None:
    assert is_conda_file(Path("x.conda.yaml")) and is_conda_file(Path("conda.yml"))
    assert not is_conda_file(Path("condaenv.yaml")) and not is_conda_file(Path("e.yaml"))
    assert not is_conda_file(Path("x.conda.json"))


def test_no_folder_declares_nothing(tmp_path: Path) -> None:
    assert load_environment_specs(tmp_path) == ()


def _digest(root: Path, conda: str, image: str = IMAGE) -> str:
    (root / "assets" / "environments" / "e.conda.yaml").write_text(conda)
    declare(root, "e.yaml", f"name: e\nimage: {image}\nconda_file: e.conda.yaml\n")
    (spec,) = load_environment_specs(root)
    return spec.digest


def test_digest_ignores_comments_and_layout_but_not_real_changes(root: Path) -> None:
    base = _digest(root, CONDA)
    reformatted = (
        "# the training environment\nname:   e\n\nchannels:\n  - conda-forge  # pinned\n"
        "dependencies: [python=3.11, pip]\n"
    )
    assert _digest(root, reformatted) == base
    assert _digest(root, CONDA.replace("python=3.11", "python=3.12")) != base
    assert _digest(root, CONDA, image="mcr.microsoft.com/azureml/other:1") != base


def test_yaml_syntax_error_names_the_line(root: Path) -> None:
    declare(root, "e.yaml", "name: e\nimage: [unclosed\n  x: : :\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/environments/e.yaml", "line 4")
    assert "YAML syntax error" in problem.reason


def test_empty_file(root: Path) -> None:
    (root / "assets" / "environments" / "e.yaml").write_text("")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/environments/e.yaml", "")
    assert "not an environment" in problem.reason


def test_missing_image(root: Path) -> None:
    declare(root, "e.yaml", "name: e\nconda_file: e.conda.yaml\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/environments/e.yaml", "image")
    assert "missing: add `image:`" in problem.reason


def test_missing_conda_file_field(root: Path) -> None:
    declare(root, "e.yaml", f"name: e\nimage: {IMAGE}\n")
    problem = only_problem(root)
    assert problem.field == "conda_file"
    assert "missing: add `conda_file:`" in problem.reason


def test_conda_file_that_does_not_exist_still_checks_the_rest(root: Path) -> None:
    declare(root, "e.yaml", "name: e\nconda_file: nope.conda.yaml\nversion: v1\n")
    problems = {p.field: p.reason for p in problems_of(root)}
    assert set(problems) == {"conda_file", "image", "version"}
    assert "which is not a file: create it" in problems["conda_file"]


def test_conda_file_with_a_syntax_error_is_reported_on_conda_file(root: Path) -> None:
    (root / "assets" / "environments" / "e.conda.yaml").write_text("name: e\ndependencies: [\n")
    declare(root, "e.yaml", valid())
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/environments/e.yaml", "conda_file")
    assert "'e.conda.yaml' line 3: YAML syntax error" in problem.reason


def test_conda_file_that_is_not_utf8(root: Path) -> None:
    (root / "assets" / "environments" / "e.conda.yaml").write_bytes(b"name: caf\xe9\n")
    declare(root, "e.yaml", valid())
    problem = only_problem(root)
    assert problem.field == "conda_file" and "save it as UTF-8" in problem.reason


@pytest.mark.parametrize(
    ("conda", "expected"),
    [
        ("- python=3.11\n", "not a conda environment file"),
        ("name: e\nchannels: [conda-forge]\n", "no `dependencies:` list"),
    ],
)
def test_conda_file_that_is_not_a_conda_spec(root: Path, conda: str, expected: str) -> None:
    (root / "assets" / "environments" / "e.conda.yaml").write_text(conda)
    declare(root, "e.yaml", valid())
    problem = only_problem(root)
    assert problem.field == "conda_file" and expected in problem.reason


def test_inline_conda_spec_is_not_supported(root: Path) -> None:
    declare(root, "e.yaml", f"name: e\nimage: {IMAGE}\nconda_file: {{dependencies: [pip]}}\n")
    problem = only_problem(root)
    assert problem.field == "conda_file" and "inline conda spec" in problem.reason


def test_conda_file_outside_the_project(
    root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x.conda.yaml"
    elsewhere.write_text(CONDA)
    declare(root, "e.yaml", f"name: e\nimage: {IMAGE}\nconda_file: {elsewhere}\n")
    problem = only_problem(root)
    assert problem.field == "conda_file" and "outside the project root" in problem.reason


def test_conda_file_among_environments_must_be_named_as_one(root: Path) -> None:
    (root / "assets" / "environments" / "deps.yaml").write_text(CONDA)
    declare(root, "e.yaml", f"name: e\nimage: {IMAGE}\nconda_file: deps.yaml\n")
    problems = problems_of(root)
    mine = [p for p in problems if p.file == "assets/environments/e.yaml"]
    assert [p.field for p in mine] == ["conda_file"]
    assert "rename it to deps.conda.yaml" in mine[0].reason
    # deps.yaml itself is read as an environment, which azure-ai-ml rejects too
    assert any(p.file == "assets/environments/deps.yaml" for p in problems)


def test_conda_file_in_another_folder_needs_no_special_name(root: Path) -> None:
    (root / "envs").mkdir()
    (root / "envs" / "deps.yaml").write_text(CONDA)
    declare(root, "e.yaml", f"name: e\nimage: {IMAGE}\nconda_file: ../../envs/deps.yaml\n")
    (spec,) = load_environment_specs(root)
    assert spec.conda_file == (root / "envs" / "deps.yaml").resolve()


def test_build_contexts_are_not_supported_yet(root: Path) -> None:
    (root / "ctx").mkdir()
    (root / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    declare(root, "e.yaml", "name: e\nbuild:\n  path: ../../ctx\n")
    problem = only_problem(root)
    assert (problem.file, problem.field) == ("assets/environments/e.yaml", "build")
    assert "not supported by mlstack yet" in problem.reason
    assert "`image:`" in problem.reason and "`conda_file:`" in problem.reason


@pytest.mark.parametrize("name", ["-e", "e.", "a b", "x" * 256])
def test_invalid_names(root: Path, name: str) -> None:
    declare(root, "e.yaml", valid(name=f"'{name}'"))
    problem = only_problem(root)
    assert problem.field == "name" and "is not a valid asset name" in problem.reason


def test_missing_name(root: Path) -> None:
    declare(root, "e.yaml", f"image: {IMAGE}\nconda_file: e.conda.yaml\n")
    problem = only_problem(root)
    assert problem.field == "name" and "missing: add `name:`" in problem.reason


@pytest.mark.parametrize("version", ["0", "v1", "1.5", "latest"])
def test_versions_must_be_positive_integers(root: Path, version: str) -> None:
    declare(root, "e.yaml", valid(extra=f"version: '{version}'\n"))
    problem = only_problem(root)
    assert problem.field == "version" and "is not a positive integer" in problem.reason


def test_unknown_key(root: Path) -> None:
    declare(root, "e.yaml", valid(extra="imgae: x\n"))
    problem = only_problem(root)
    assert problem.field == "imgae"
    assert "unknown key" in problem.reason and "environment schema" in problem.reason


def test_duplicate_names_case_insensitively_and_all_problems_at_once(root: Path) -> None:
    declare(root, "a.yaml", valid(name="env"))
    declare(root, "b.yaml", valid(name="ENV", extra="version: x\n"))
    declare(root, "c.yaml", "name: c\n")
    problems = problems_of(root)
    assert [(p.file, p.field) for p in problems] == [
        ("assets/environments/b.yaml", "version"),
        ("assets/environments/c.yaml", "conda_file"),
        ("assets/environments/c.yaml", "image"),
        ("assets/environments/b.yaml", "name"),
    ]
    assert "also declared in assets/environments/a.yaml" in problems[-1].reason
    assert "each environment" in problems[-1].reason


def test_the_shipped_environment_loads(tmp_path: Path) -> None:
    shutil.copytree(REPO / "assets" / "environments", tmp_path / "assets" / "environments")
    (spec,) = load_environment_specs(tmp_path)
    assert (spec.name, spec.image) == ("digits-env", IMAGE)
    pip = next(d["pip"] for d in spec.conda["dependencies"] if isinstance(d, dict))
    lock = (REPO / "uv.lock").read_text()
    for pin in pip:
        package, _, version = pin.partition("==")
        assert f'name = "{package}"\nversion = "{version}"' in lock, pin
