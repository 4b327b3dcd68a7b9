"""Rollback through the real engine: pin an earlier version again, review, ``pulumi up``.

A production stack is promoted version 1, then version 2, of a source stack's model and
serves each on its endpoint. Promoting version 1 again (the same edit as ``git revert``
of the second pin: the stack file goes back to its earlier text) makes the preview say
"rollback to version 1", and ``up`` puts prod's version 1 back on the endpoint — the one
registered before, no new version. Tiny artefacts (the upgrade fixture's, with a metric
changed for the second version) and a scoring script that answers with the metric of the
model it loaded keep it cheap: no training, no torch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlstack.project import Project
from mlstack.review import render_markdown, summarise
from mlstack.workspace.local import LocalWorkspace
from tests.integration.conftest import Pulumi

pytestmark = pytest.mark.integration

MODEL = "digits-cnn"
ARTEFACT = Path(__file__).resolve().parents[1] / "fixtures" / "state-v0" / "artefact"
SCORE = """
import json
import os
from pathlib import Path

accuracy = None


def init():
    global accuracy
    metrics = Path(os.environ["AZUREML_MODEL_DIR"]) / "metrics.json"
    accuracy = json.loads(metrics.read_text())["test"]["accuracy"]


def run(raw_data):
    return {"test_accuracy": accuracy}
"""
DEPLOYMENT = """\
name: blue
endpoint_name: digits
model: azureml:digits-cnn:1
environment: azureml:digits-env:1
code_configuration:
  code: ../../serve
  scoring_script: score.py
instance_type: Standard_DS3_v2
instance_count: 1
"""


def _mlstack(cli: Pulumi, project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), *args], cwd=cli.cwd, env=cli.env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _set_accuracy(cli: Pulumi, accuracy: float) -> None:
    """A new artefact: the fixture's, with another test accuracy (so another digest)."""
    metrics = cli.cwd / "outputs" / MODEL / "metrics.json"
    metrics.write_text(json.dumps({"test": {"accuracy": accuracy}, "val": {"accuracy": 0.96}}))


def _promote(source: Pulumi, prod: Pulumi, project: Project, version: str) -> None:
    promoted = _mlstack(source, project, "promote", MODEL, "--from", source.stack,
                        "--to", prod.stack, "--version", version)  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr


def _served(prod: Pulumi) -> float:
    """The test accuracy of the model prod's endpoint answers with."""
    endpoint = json.loads(prod.run("stack", "output", "endpoints", "--show-secrets", "--json",
                                   "--stack", prod.stack).stdout)["digits"]  # fmt: skip
    auth = {"Authorization": f"Bearer {endpoint['primary_key']}"}
    answer = httpx.post(endpoint["scoring_uri"], json={"data": []}, headers=auth, timeout=60)
    assert answer.status_code == 200, answer.text
    return float(answer.json()["test_accuracy"])


def _recorded(prod: Pulumi, name: str) -> dict[str, Any]:
    """Resource ``name``'s outputs, as the state holds them."""
    state = json.loads(prod.run("stack", "export", "--stack", prod.stack).stdout)
    (found,) = [r for r in state["deployment"]["resources"] if r["urn"].endswith(f"::{name}")]
    return dict(found["outputs"])


def _summary(prod: Pulumi) -> str:
    """The model's change summary in ``pulumi preview --json``."""
    preview = json.loads(prod.run("preview", "--json").stdout)
    (model,) = summarise(prod.stack, preview).models
    return model.summary


def test_promoting_an_earlier_version_again_rolls_prod_back(
    pulumi: Pulumi, project: Project
) -> None:
    source = pulumi
    shutil.copytree(project.root / "assets" / "models", source.cwd / "assets" / "models")
    endpoints = source.cwd / "assets" / "endpoints"
    endpoints.mkdir(parents=True)
    shutil.copy(project.root / "assets" / "endpoints" / "digits.yaml", endpoints)
    (endpoints / "digits-blue.yaml").write_text(DEPLOYMENT)
    (source.cwd / "serve").mkdir()
    (source.cwd / "serve" / "score.py").write_text(SCORE)
    shutil.copytree(ARTEFACT, source.cwd / "outputs" / MODEL)
    _set_accuracy(source, 0.97)
    source.run("up", "--yes")
    _set_accuracy(source, 0.98)
    source.run("up", "--yes")
    home = Path(source.env["MLSTACK_HOME"])
    versions = {v.version: v for v in LocalWorkspace.open(home, source.stack).models.list(MODEL)}
    assert sorted(versions) == ["1", "2"]

    prod = replace(source, stack=f"{source.stack}-prod")
    template = (project.root / "stacks" / "Pulumi.local-prod.yaml").read_text()
    config = "\n".join(x for x in template.splitlines() if not x.startswith("encryptionsalt"))
    prod_file = source.cwd / "stacks" / f"Pulumi.{prod.stack}.yaml"
    prod_file.write_text(config + "\n")
    prod.run("stack", "init", prod.stack)
    try:
        _promote(source, prod, project, "1")
        first_pin = prod_file.read_text()
        prod.run("up", "--yes")
        assert _served(prod) == 0.97
        _promote(source, prod, project, "2")
        prod.run("up", "--yes")
        assert _served(prod) == 0.98
        registered = LocalWorkspace.open(home, prod.stack).models
        held = {v.version: v.digest for v in registered.list(MODEL)}
        assert held == {"1": versions["1"].digest, "2": versions["2"].digest}

        # Rollback: promoting version 1 again is the same edit as reverting the second pin.
        _promote(source, prod, project, "1")
        assert prod_file.read_text() == first_pin
        preview = json.loads(prod.run("preview", "--json").stdout)
        said = [(d["severity"], d.get("urn", "").rsplit("::", 1)[-1], d["message"].strip())
                for d in preview.get("diagnostics", [])]  # fmt: skip
        notice = "model digits-cnn: rollback to version 1 (now serving 2)"
        assert ("info", "model-digits-cnn", notice) in said  # attached to the model
        review = summarise(prod.stack, preview)
        (model,) = review.models
        assert model.summary.startswith("rollback to version 1 (now serving 2;")
        assert (model.rollback_to, model.from_version, model.new_version) == ("1", "2", False)
        assert "| `digits-cnn` | v2 → v1 (rollback) |" in render_markdown([review])

        prod.run("up", "--yes")
        assert _served(prod) == 0.97
        endpoint = _recorded(prod, "endpoint-digits")
        assert endpoint["deployments"]["blue"]["model_version"] == "1"
        assert endpoint["running"]["blue"]["model_digest"] == versions["1"].digest
        # Prod's own version 1 serves again: nothing registered or copied, nothing deleted.
        assert {v.version: v.digest for v in registered.list(MODEL)} == held
        assert prod.outputs()["models"][MODEL]["version"] == "1"
        transfer = _recorded(prod, "model-digits-cnn")["transfer"]
        assert (transfer["copied_files"], transfer["uploaded_files"]) == (0, 0)
        after = prod.run("preview", "--expect-no-changes")
        assert "rollback" not in after.stdout + after.stderr  # served again: nothing to say

        # Forward again is the same move the other way, and says so.
        _promote(source, prod, project, "2")
        assert _summary(prod).startswith("back to version 2 (now serving 1;")
    finally:
        prod.run("destroy", "--yes", check=False)
        prod.run("stack", "rm", "--yes", "--force", prod.stack, check=False)
