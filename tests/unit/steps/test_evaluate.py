"""steps/evaluate/evaluate.py: the final model folder, with train's own numbers and the
pipeline's lineage, published the way train.py publishes."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from PIL import Image

from mlstack.content.artefact import read_artefact
from mlstack.jobs.metrics import read_metrics
from tests.unit.steps.test_prep import load_script

REPO = Path(__file__).resolve().parents[3]
ARTEFACT = [".mlstack-complete", "lineage.json", "metrics.json", "model.pt2", "training_curve.png"]
TRAIN_DATA = [
    {"digest": f"sha256:{role}", "name": f"folder-{role}", "role": role, "version": ""}
    for role in ("train", "val", "test")
]
PIPELINE = {
    "id": "pipe-123",
    "display_name": "digits pipeline",
    "inputs": {
        "train": {"name": "digits-train", "version": "3", "digest": "sha256:aa"},
        "val": {"name": "digits-val", "version": "2", "digest": "sha256:bb"},
        "test": {"name": "digits-test", "version": "1", "digest": "sha256:cc"},
        "epochs": 8,  # a literal input: not data
    },
    "steps": {"prep": "job-p", "train": "job-t", "evaluate": "job-e"},
}


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return load_script(REPO / "steps" / "evaluate" / "evaluate.py", "evaluate_under_test")


@pytest.fixture(scope="module")
def trainer() -> ModuleType:
    return load_script(REPO / "training" / "train.py", "train_for_evaluate_test")


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Raw val/test PNG trees (600 val images: more than one 512 batch) and their prep
    step outputs."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(5)
    for role, per_class in (("val", 60), ("test", 3)):
        for label in range(10):
            (root / "raw" / role / str(label)).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
                Image.fromarray(pixels).save(root / "raw" / role / str(label) / f"{i}.png")
    prep = load_script(REPO / "steps" / "prep" / "prep.py", "prep_for_evaluate_test")
    raw = root / "raw"  # prep wants three splits; a train split is not needed here
    argv = ["--train", str(raw / "test"), "--val", str(raw / "val"), "--test", str(raw / "test"),
            "--out-train", str(root / "unused"), "--out-val", str(root / "val"),
            "--out-test", str(root / "test")]  # fmt: skip
    assert prep.main(argv) == 0
    return {"val": root / "val", "test": root / "test", "raw-val": root / "raw" / "val",
            "raw-test": root / "raw" / "test"}  # fmt: skip


@pytest.fixture(scope="module")
def network(trainer: ModuleType) -> torch.nn.Module:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net: torch.nn.Module = trainer.DigitsCNN().eval()
    return net


@pytest.fixture(scope="module")
def trained(
    trainer: ModuleType, network: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A train step output: an untrained fixed CNN, published by train.py's own publish."""
    out = tmp_path_factory.mktemp("train") / "model"
    metrics = {"epochs": [{"epoch": 1, "train_loss": 2.3, "val_accuracy": 0.1, "val_loss": 2.3}],
               "test": {"accuracy": 0.0, "loss": 9.0}, "train": {"accuracy": 0.5, "loss": 1.0},
               "val": {"accuracy": 0.0, "loss": 9.0}}  # fmt: skip
    lineage = {"data": TRAIN_DATA, "job": "job-t", "model": "digits-cnn", "threads": 1}

    def write(folder: Path) -> None:
        trainer.export_model(network, folder / "model.pt2")
        (folder / "metrics.json").write_text(json.dumps(metrics))
        (folder / "lineage.json").write_text(json.dumps(lineage))
        Image.new("L", (8, 8)).save(folder / "training_curve.png")

    trainer.publish(out, write)
    return out


def run(evaluator: ModuleType, trained: Path, splits: dict[str, Path], out: Path) -> int:
    code: int = evaluator.main(["--model", str(trained), "--val", str(splits["val"]),
                                "--test", str(splits["test"]), "--out", str(out),
                                "--threads", "1"])  # fmt: skip
    return code


@pytest.fixture(scope="module")
def published(
    evaluator: ModuleType, trained: Path, splits: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path]:  # fmt: skip
    """One evaluation inside a pipeline job: the final folder and the metrics file."""
    root = tmp_path_factory.mktemp("final")
    rows = root / "metrics.jsonl"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLSTACK_JOB", json.dumps({"id": "job-e", "pipeline": PIPELINE}))
        env.setenv("MLSTACK_METRICS_FILE", str(rows))
        assert run(evaluator, trained, splits, root / "final") == 0
    return root / "final", rows


def test_the_output_is_a_complete_artefact_with_train_s_files(
    published: tuple[Path, Path], trained: Path
) -> None:
    final, _ = published
    artefact = read_artefact(final)
    assert sorted(p.name for p in final.iterdir()) == ARTEFACT
    assert sorted(p.name for p in final.parent.iterdir()) == ["final", "metrics.jsonl"]
    marker = json.loads((final / ".mlstack-complete").read_text())
    assert marker["files"] == {
        name: hashlib.sha256((final / name).read_bytes()).hexdigest() for name in ARTEFACT[1:]
    }
    for name in ("model.pt2", "training_curve.png"):
        assert (final / name).read_bytes() == (trained / name).read_bytes()
    assert artefact.metrics["evaluated_by"] == "evaluate_digits"


def test_metrics_are_train_s_evaluate_on_the_same_images(
    published: tuple[Path, Path], trainer: ModuleType, network: torch.nn.Module,
    splits: dict[str, Path],
) -> None:  # fmt: skip
    metrics = json.loads((published[0] / "metrics.json").read_text())
    cpu = torch.device("cpu")
    for role in ("val", "test"):
        expected = trainer.evaluate(network, trainer.load_split(splits[f"raw-{role}"]), cpu)
        assert metrics[role] == expected
    assert metrics["train"] == {"accuracy": 0.5, "loss": 1.0}  # train's, kept
    assert metrics["epochs"][0]["epoch"] == 1
    assert sorted(metrics) == ["epochs", "evaluated_by", "test", "train", "val"]


def test_lineage_names_the_pipeline_and_its_data(published: tuple[Path, Path]) -> None:
    lineage = json.loads((published[0] / "lineage.json").read_text())
    metrics = json.loads((published[0] / "metrics.json").read_text())
    assert lineage["pipeline"] == PIPELINE
    assert lineage["job"] == "pipe-123"
    assert lineage["data"] == [
        {"digest": "sha256:aa", "name": "digits-train", "role": "train", "version": "3"},
        {"digest": "sha256:bb", "name": "digits-val", "role": "val", "version": "2"},
        {"digest": "sha256:cc", "name": "digits-test", "role": "test", "version": "1"},
    ]
    assert lineage["evaluate"] == {"job": "job-e", "val": metrics["val"], "test": metrics["test"]}
    assert (lineage["model"], lineage["threads"]) == ("digits-cnn", 1)  # train's, kept


def test_the_metrics_file_gets_metrics_rows(published: tuple[Path, Path]) -> None:
    final, rows = published
    metrics = json.loads((final / "metrics.json").read_text())
    read = {(m.key, m.step): m.value for m in read_metrics(rows)}
    assert read == {
        (f"{role}_{key}", 0): metrics[role][key]
        for role in ("val", "test") for key in ("accuracy", "loss")
    }  # fmt: skip
    for line in rows.read_text().splitlines():
        assert list(json.loads(line)) == ["key", "step", "timestamp", "value"]


def test_outside_a_pipeline_train_s_lineage_stands_and_a_finished_folder_is_replaced(  # noqa: PLR0917
    evaluator: ModuleType, trained: Path, splits: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.delenv("MLSTACK_JOB", raising=False)
    monkeypatch.delenv("AZUREML_RUN_ID", raising=False)
    monkeypatch.delenv("MLSTACK_METRICS_FILE", raising=False)
    out = tmp_path / "final"
    shutil.copytree(trained, out)  # a complete artefact already there
    assert run(evaluator, trained, splits, out) == 0
    lineage = read_artefact(out).lineage
    assert "pipeline" not in lineage
    assert (lineage["job"], lineage["data"]) == ("job-t", TRAIN_DATA)
    assert lineage["evaluate"]["job"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final"]  # no temp sibling left
    said = capsys.readouterr().out
    assert said.startswith("test accuracy ") and said.count("\n") == 1


def _unfinished(model: Path) -> str:
    (model / ".mlstack-complete").unlink()
    return "training did not finish"


def _tampered(model: Path) -> str:
    (model / "model.pt2").write_bytes(b"other bytes")
    return "differs from .mlstack-complete"


@pytest.mark.parametrize("damage", [_unfinished, _tampered])
def test_an_incomplete_train_output_is_refused(  # noqa: PLR0917 - fixtures
    evaluator: ModuleType, trained: Path, splits: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], damage: Callable[[Path], str],
) -> None:  # fmt: skip
    model = tmp_path / "model"
    shutil.copytree(trained, model)
    said = damage(model)
    assert run(evaluator, model, splits, tmp_path / "final") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and said in err
    assert not (tmp_path / "final").exists()


def test_a_split_that_was_not_prepared_is_refused(
    evaluator: ModuleType, trained: Path, splits: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    raw = {**splits, "test": splits["raw-test"]}
    assert run(evaluator, trained, raw, tmp_path / "final") == 2
    err = capsys.readouterr().err
    assert f"{splits['raw-test']}: no split.npz; pass a prep_digits output" in err
