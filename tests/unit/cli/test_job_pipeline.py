"""``mlstack job run|show|logs`` on a pipeline, through the real CLI on a tiny project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlstack.cli import app
from mlstack.errors import ConfigError
from mlstack.project import HOME_ENV
from tests.unit.jobs.pipeline.conftest import Project, tiny
from tests.unit.jobs.pipeline.test_runner import diamond

__all__ = ["tiny"]  # the fixture, shared


@pytest.fixture
def project(tiny: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    (tiny.root / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    monkeypatch.setenv(HOME_ENV, str(tiny.home))
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.chdir(tiny.root)
    return tiny


def mlstack(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, [*args, "-s", "unit"])
    return result.exit_code, result.output, result.exception


def test_run_then_show_draws_the_steps_and_logs_points_at_them(project: Project) -> None:
    diamond(project)
    code, out, _ = mlstack("job", "run", "pipe.yaml", "-o", "final=out/final", "--format", "json")
    assert code == 0, out
    record = json.loads(out[out.index("{\n") :])
    assert record["kind"] == "pipeline" and [s["extra"]["step"] for s in record["steps"]]
    assert (project.root / "out" / "final" / "result.txt").is_file()

    code, shown, _ = mlstack("job", "show", record["id"])
    assert code == 0, shown
    assert "```mermaid\nflowchart LR\n" in shown and "    s_a --> s_b" in shown
    assert "    class s_a,s_b,s_c,s_d Completed" in shown
    assert (Path(record["workdir"]) / "pipeline.png").read_bytes()[:4] == b"\x89PNG"

    again = mlstack("job", "run", "pipe.yaml")[1]
    assert "reused from" in again
    code, logs, _ = mlstack("job", "logs", record["id"])
    assert code == 0 and "is a pipeline" in logs and f"{record['id']}_a" in logs


def test_a_failing_step_exits_1_and_a_bad_pipeline_changes_nothing(project: Project) -> None:
    diamond(project)
    bad = project.root / "bad.yaml"
    bad.write_text((project.root / "pipe.yaml").read_text().replace(
        '"${{parent.inputs.raw}}"', '"${{parent.jobs.d.outputs.out}}"'))  # fmt: skip
    code, _, error = mlstack("job", "run", "bad.yaml")
    assert isinstance(error, ConfigError) and "the steps form a cycle" in str(error)
    assert not (project.home / "stacks" / "unit" / "jobs.db").exists()
    code, _, error = mlstack("job", "run", "pipe.yaml", "--seed", "3")
    assert isinstance(error, ConfigError) and "--seed" in str(error)
    project.component("b", {"x": "uri_folder"}, optional="wait", extra=" --fail")
    code, out, _ = mlstack("job", "run", "pipe.yaml")
    assert code == 1 and "Failed" in out
