"""``mlstack batch invoke`` on a local stack: the real engine, Azurite, worker processes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlstack.config.locator import LocalLocator
from mlstack.content.download import download
from mlstack.project import Project
from mlstack.workspace import open_workspace
from mlstack.workspace.asset import upload_prefix
from tests.integration.conftest import Pulumi, add_data

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTEFACT = ROOT / "tests" / "fixtures" / "state-v0" / "artefact"
# The fixture artefact's model.pt2 is a stand-in, not a torch program: this script proves
# the model folder arrived (it reads the artefact's metrics) without loading a model.
TINY_SCORE = """
import json, os
from pathlib import Path

def init():
    global accuracy
    found = next(Path(os.environ["AZUREML_MODEL_DIR"]).rglob("metrics.json"))
    accuracy = json.loads(found.read_text())["test"]["accuracy"]

def run(mini_batch):
    return [f"{Path(p).parent.name}/{Path(p).name},{Path(p).stat().st_size},{accuracy}"
            for p in mini_batch]
"""


def invoke(cli: Pulumi, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/mlstack"), "batch", "invoke", *args, "-s", cli.stack,
         "--format", "json"],
        cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_batch_invoke_writes_predictions_as_a_data_version_with_lineage(
    pulumi: Pulumi, project: Project, digits: Path, azurite_home: Path, tmp_path: Path
) -> None:
    cli = pulumi
    add_data(cli, project, digits)
    for name in ("digits-train.yaml", "digits-val.yaml"):  # the test split is enough
        (cli.cwd / "assets" / "data" / name).unlink()
    shutil.copytree(project.root / "assets" / "models", cli.cwd / "assets" / "models")
    shutil.copytree(ARTEFACT, cli.cwd / "outputs" / "digits-cnn")  # no training needed
    endpoints = cli.cwd / "assets" / "endpoints"
    endpoints.mkdir()
    for name in ("digits-batch.yaml", "digits-batch-default.yaml"):
        shutil.copy(project.root / "assets" / "endpoints" / name, endpoints / name)
    (cli.cwd / "training").mkdir()
    (cli.cwd / "training" / "batch_score.py").write_text(TINY_SCORE)
    cli.run("up", "--yes")  # digits-test:1 and digits-cnn:1

    result = invoke(cli, "digits-batch", "--input", "azureml:digits-test@latest")
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    images = sorted(p.relative_to(digits / "test").as_posix()
                    for p in (digits / "test").rglob("*.png"))  # fmt: skip
    assert summary["input"] == "digits-test:1"
    assert summary["model"] == "digits-cnn:1"
    assert (summary["items"], summary["failed_items"], summary["retried"]) == (len(images), 0, 0)
    assert summary["mini_batches"] == -(-len(images) // 20)  # mini_batch_size: 20
    assert (summary["output"], summary["output_new"]) == ("digits-batch-predictions:1", True)

    ws = open_workspace(LocalLocator(stack=cli.stack), home=azurite_home)
    output = ws.data.get("digits-batch-predictions", "1")
    data, model = ws.data.get("digits-test", "1"), ws.models.get("digits-cnn", "1")
    assert {k: v for k, v in output.properties.items() if k.startswith("mlstack.batch.")} == {
        "mlstack.batch.endpoint": "digits-batch",
        "mlstack.batch.deployment": "default",
        "mlstack.batch.model": "digits-cnn:1",
        "mlstack.batch.model_digest": model.digest,
        "mlstack.batch.input": "digits-test:1",
        "mlstack.batch.input_digest": data.digest,
        "mlstack.batch.items": str(len(images)),
        "mlstack.batch.failed_items": "0",
        "mlstack.batch.mini_batches": str(summary["mini_batches"]),
    }
    fetched = tmp_path / "predictions"
    manifest = ws.data.manifest(output.name, output.version)
    download(ws.endpoint, ws.container, upload_prefix(output.digest, output.name), manifest,
             fetched, progress=False)  # fmt: skip
    rows = [line.split(",") for line in (fetched / "predictions.csv").read_text().splitlines()]
    assert [r[0] for r in rows] == images  # every image once, in input order
    sizes = {p: str((digits / "test" / p).stat().st_size) for p in images}
    assert all(r[1] == sizes[r[0]] for r in rows)  # each row scored its own file
    recorded = json.loads((ARTEFACT / "metrics.json").read_text())["test"]["accuracy"]
    assert {r[2] for r in rows} == {str(recorded)}  # init() read the fetched model folder

    # The same versions again: identical predictions are the same version, not a new one.
    again = json.loads(invoke(cli, "digits-batch", "--input", "digits-test:1").stdout)
    assert (again["output"], again["output_new"]) == ("digits-batch-predictions:1", False)


def test_a_script_without_run_is_refused_before_anything_runs(
    pulumi: Pulumi, project: Project
) -> None:
    cli = pulumi
    shutil.copytree(project.root / "assets" / "endpoints", cli.cwd / "assets" / "endpoints")
    (cli.cwd / "training").mkdir()
    (cli.cwd / "training" / "batch_score.py").write_text("def init():\n    pass\n")
    (cli.cwd / "training" / "score.py").write_text(
        "def init():\n    pass\n\n\ndef run(r):\n    return r\n"
    )
    result = invoke(cli, "digits-batch", "--input", "digits-test@latest")
    assert result.returncode == 1
    assert "assets/endpoints/digits-batch-default.yaml: code_configuration.scoring_script" in (
        result.stderr
    )
    assert "batch_score.py defines no run(mini_batch)" in result.stderr
    assert "Traceback" not in result.stderr
