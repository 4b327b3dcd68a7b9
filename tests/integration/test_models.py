"""Data → training → model versions with lineage, through the real engine and real training."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlstack.project import Project
from tests.integration.conftest import Pulumi, add_data

pytestmark = pytest.mark.integration

MODEL = "digits-cnn"
UNREACHABLE = 1.01
"""A minimum test accuracy no model can reach: the failing case fails by construction."""


def _train(cli: Pulumi, project: Project, seed: int) -> None:
    command = [
        str(project.root / ".venv/bin/python"), str(cli.cwd / "training" / "train.py"),
        "--stack", cli.stack, "--model", MODEL, "--epochs", "1", "--seed", str(seed),
        "--environment", "digits-env@latest", "--train", "digits-train@latest",
        "--val", "digits-val@latest", "--test", "digits-test@latest",
    ]  # fmt: skip
    subprocess.run(command, cwd=cli.cwd, env=cli.env, check=True, capture_output=True, timeout=600)


def _lineage(cli: Pulumi, project: Project, ref: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), "lineage", ref, "-s", cli.stack,
         "--format", "json"],
        cwd=cli.cwd, env=cli.env, check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return dict(json.loads(result.stdout))


def _mlstack(cli: Pulumi, project: Project, *args: str) -> str:
    result = subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), *args, "-s", cli.stack],
        cwd=cli.cwd, env=cli.env, check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return result.stdout


def _mermaid_nodes(text: str) -> dict[str, list[str]]:
    """Mermaid node id → its label's lines."""
    found = re.findall(r'^    (\w+)\["([^"]*)"\]$', text, flags=re.MULTILINE)
    return {node: label.split("<br/>") for node, label in found}


def _check_graph_and_card(cli: Pulumi, project: Project, outputs: dict[str, Any]) -> None:
    """``mlstack lineage --format mermaid`` and ``mlstack model card`` name what the
    workspace recorded: the data versions and digests the stack registered, version 1."""
    nodes = _mermaid_nodes(_mlstack(cli, project, "lineage", f"{MODEL}:1", "--format", "mermaid"))
    data = {lines[0].removeprefix("data "): lines for lines in nodes.values()
            if lines[0].startswith("data ")}  # fmt: skip
    assert set(data) == {f"{name}:{out['version']}" for name, out in outputs["data"].items()}
    for name, out in outputs["data"].items():
        assert out["digest"][:19] in data[f"{name}:{out['version']}"]
    [model] = [lines for lines in nodes.values() if lines[0].startswith("model ")]
    assert model[0] == f"model {MODEL}:1" and "gate test.accuracy" in model[-1]
    assert outputs["models"][MODEL]["digest"][:19] in model
    assert [lines[0] for lines in nodes.values() if lines[0].startswith("environment ")] == [
        "environment digits-env:1"
    ]

    card_file = cli.cwd / "cards" / "card.md"
    _mlstack(cli, project, "model", "card", f"{MODEL}:1", "--output", str(card_file))
    card = card_file.read_text()
    assert card.startswith(f"# Model card: {MODEL}:1\n")
    for name, out in outputs["data"].items():
        row = next(x for x in card.splitlines() if f"`{name}:{out['version']}`" in x)
        assert f"| {out['files']} |" in row and out["digest"][:19] in row
    totals = next(x for x in card.splitlines() if x.startswith("| **total** |"))
    files = {name.removeprefix("digits-"): out["files"] for name, out in outputs["data"].items()}
    assert totals == f"| **total** | {files['train']} | {files['val']} | {files['test']} |"
    assert "| test | accuracy |" in card and "✅ pass" in card
    picture = card_file.parent / "card-training-curve.png"
    assert f"]({picture.name})" in card
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Trained and registered in stack" in card
    assert _mlstack(cli, project, "model", "card", f"{MODEL}:1").startswith("# Model card")


def _check_review_graph(cli: Pulumi, project: Project, outputs: dict[str, Any]) -> None:
    """The review's graph of the retrained version names the data versions it was trained
    on (the artefact's lineage, as the preview plans to register it)."""
    out = cli.cwd / "review.md"
    subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), "review", "-s", cli.stack, "--output", str(out)],
        cwd=cli.cwd, env=cli.env, check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    markdown = out.read_text()
    [block] = [b.split("```", 1)[0] for b in markdown.split("```mermaid\n")[1:]]
    nodes = _mermaid_nodes(block)
    data = {lines[0] for lines in nodes.values() if lines[0].startswith("data ")}
    assert data == {f"data {name}:{o['version']}" for name, o in outputs["data"].items()}
    digests = {line for lines in nodes.values() for line in lines}
    assert all(o["digest"][:19] in digests for o in outputs["data"].values())
    assert [lines[0] for lines in nodes.values() if lines[0].startswith("model ")] == [
        f"model {MODEL}:next"
    ]
    assert f"**Lineage of `{MODEL}`** (version next in `{cli.stack}`)" in markdown


def _set_gate(cli: Pulumi, value: float) -> None:
    spec = cli.cwd / "assets" / "models" / f"{MODEL}.yaml"
    text = spec.read_text()
    line = next(x for x in text.splitlines() if "mlstack.min.test.accuracy" in x)
    spec.write_text(text.replace(line, f"  mlstack.min.test.accuracy: {value}"))


def test_train_register_retrain_and_gate(pulumi: Pulumi, project: Project, digits: Path) -> None:
    add_data(pulumi, project, digits)
    for folder in ("environments", "models"):
        shutil.copytree(project.root / "assets" / folder, pulumi.cwd / "assets" / folder)
    shutil.copytree(project.root / "training", pulumi.cwd / "training")
    _set_gate(pulumi, 0.5)  # one short epoch: a gate a short run clears

    # Before training: data and environment are registered; the model waits, and says why.
    first = pulumi.run("up", "--yes")
    assert "does not exist yet: train the model" in first.stdout + first.stderr
    outputs = pulumi.outputs()
    assert outputs["environments"] == {"digits-env": "azureml:digits-env:1"}
    assert outputs["models"] == {}

    _train(pulumi, project, seed=1)
    pulumi.run("up", "--yes")
    assert pulumi.outputs()["models"][MODEL]["version"] == "1"
    lineage = _lineage(pulumi, project, f"{MODEL}:1")
    data = {d["name"]: (d["version"], d["digest"]) for d in lineage["data"]}
    assert data == {name: (out["version"], out["digest"])
                    for name, out in outputs["data"].items()}  # fmt: skip
    assert (lineage["environment"]["name"], lineage["environment"]["version"]) == (
        "digits-env",
        "1",
    )
    _check_graph_and_card(pulumi, project, pulumi.outputs())

    # An unchanged artefact (and environment) is no change.
    pulumi.run("preview", "--expect-no-changes")

    # Retraining with another seed: the preview shows the metric change, up makes version 2.
    _train(pulumi, project, seed=2)
    _check_review_graph(pulumi, project, outputs)
    [step] = [s for s in pulumi.preview_steps() if s["op"] != "same"]
    change = step["newState"]["inputs"]["metrics_change"]
    assert change.startswith("test.accuracy ") and " → " in change
    pulumi.run("up", "--yes")
    assert pulumi.outputs()["models"][MODEL]["version"] == "2"
    assert _lineage(pulumi, project, f"{MODEL}:1")["model"]["version"] == "1"
    assert _lineage(pulumi, project, MODEL)["model"]["version"] == "2"

    # A model below its gate is not registered; the preview says why; nothing changes.
    # The gate is above any accuracy, so the model fails it by construction.
    _set_gate(pulumi, UNREACHABLE)
    _train(pulumi, project, seed=3)
    preview = pulumi.run("preview", "--diff")
    assert "not registered: test.accuracy" in preview.stdout + preview.stderr
    assert "keeping version 2" in preview.stdout + preview.stderr
    pulumi.run("up", "--yes", "--expect-no-changes")
    assert pulumi.outputs()["models"][MODEL]["version"] == "2"
