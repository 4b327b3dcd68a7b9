"""The digits pipeline through the real engine, Azurite and torch: run, reuse, register.

``pulumi up`` registers the data, the environment and the three components; ``mlstack job
run assets/jobs/pipeline.yaml`` runs prep → train → evaluate; a second run reuses every
step; a change to evaluate's code re-runs evaluate alone; the next ``pulumi up`` registers
the model with the pipeline run and each step in its lineage.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlstack.project import Project
from tests.integration.conftest import Pulumi, add_data
from tests.integration.test_models import MODEL, _lineage, _set_gate

pytestmark = pytest.mark.integration
STEPS = ("prep", "train", "evaluate")


def _run(cli: Pulumi, project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), "job", *args, "-s", cli.stack],
        cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def _pipeline(cli: Pulumi, project: Project) -> dict[str, Any]:
    done = _run(cli, project, "run", "assets/jobs/pipeline.yaml", "-o",
                f"model=outputs/{MODEL}", "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    record: dict[str, Any] = json.loads(done.stdout)
    assert record["kind"] == "pipeline" and record["status"] == "Completed", record
    return record


def _reused(record: dict[str, Any]) -> dict[str, str | None]:
    return {name: step["reused_from"] for name, step in record["extra"]["steps"].items()}


def _jobs(record: dict[str, Any]) -> dict[str, str]:
    return {name: step["job"] for name, step in record["extra"]["steps"].items()}


def test_the_digits_pipeline_runs_reuses_and_feeds_the_model(
    pulumi: Pulumi, project: Project, digits: Path
) -> None:
    add_data(pulumi, project, digits)
    for folder in ("environments", "models", "components"):
        shutil.copytree(project.root / "assets" / folder, pulumi.cwd / "assets" / folder)
    for folder in ("training", "steps"):
        shutil.copytree(project.root / folder, pulumi.cwd / folder)
    jobs = pulumi.cwd / "assets" / "jobs"
    jobs.mkdir()
    text = (project.root / "assets/jobs/pipeline.yaml").read_text()
    (jobs / "pipeline.yaml").write_text(text.replace("epochs: 8", "epochs: 1"))
    _set_gate(pulumi, 0.5)  # one short epoch: a gate a short run clears
    pulumi.run("up", "--yes")
    outputs = pulumi.outputs()
    assert set(outputs["components"]) == {"prep_digits", "train_digits", "evaluate_digits"}

    first = _pipeline(pulumi, project)
    assert _reused(first) == dict.fromkeys(STEPS)
    steps = first["extra"]["steps"]
    assert {n: s["status"] for n, s in steps.items()} == dict.fromkeys(STEPS, "Completed")
    assert steps["evaluate"]["upstream"] == ["prep", "train"]
    assert steps["prep"]["component"] == "prep_digits:1"  # the file's content, registered
    artefact = pulumi.cwd / "outputs" / MODEL
    metrics = json.loads((artefact / "metrics.json").read_text())
    assert metrics["evaluated_by"] == "evaluate_digits" and metrics["test"]["accuracy"] > 0.5

    # Nothing changed: every step is reused from the first run.
    second = _pipeline(pulumi, project)
    assert _reused(second) == _jobs(first)

    # evaluate's code changes: evaluate alone runs again.
    script = pulumi.cwd / "steps" / "evaluate" / "evaluate.py"
    script.write_text(script.read_text() + "\n# evaluated again\n")
    third = _pipeline(pulumi, project)
    assert _reused(third) == {"prep": _jobs(first)["prep"], "train": _jobs(first)["train"],
                              "evaluate": None}  # fmt: skip
    shown = _run(pulumi, project, "show", third["id"])
    assert shown.returncode == 0, shown.stderr
    assert "flowchart LR" in shown.stdout and f"reused from {_jobs(first)['train']}" in shown.stdout
    assert (Path(third["workdir"]) / "pipeline.png").is_file()

    # The model registered from the pipeline's output names the run and every step.
    pulumi.run("up", "--yes")
    assert pulumi.outputs()["models"][MODEL]["version"] == "1"
    lineage = _lineage(pulumi, project, f"{MODEL}:1")
    recorded = lineage["pipeline"]
    assert recorded["id"] == third["id"]
    # each step's record of this run; the reused ones name the run that made their output
    assert recorded["steps"] == _jobs(third)
    data = {d["name"]: (d["version"], d["digest"]) for d in lineage["data"]}
    assert data == {name: (out["version"], out["digest"])
                    for name, out in outputs["data"].items()}  # fmt: skip
