"""training/batch_score.py through the batch runner: the same answers as the online script."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlstack.batch.runner import Schedule, run_batch
from tests.unit.training.test_score import REPO, images, load_script, model_dir  # noqa: F401 - a fixture


def test_batch_predictions_equal_the_online_scripts(
    model_dir: Path,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = images(7)
    files = []
    for i, image in enumerate(batch):
        target = tmp_path / "in" / str(i % 3) / f"{i:02d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(target)
        files.append(str(target))
    files.sort()
    report = run_batch(
        REPO / "training" / "batch_score.py", files,
        Schedule(mini_batch_size=3, concurrency=2, timeout=120),
        {"AZUREML_MODEL_DIR": str(model_dir)},
    )  # fmt: skip
    assert (report.items, report.mini_batches, report.failed_items) == (7, 3, 0)
    rows = [row.split(",") for row in report.rows]
    assert [r[0] for r in rows] == [str(Path(f).relative_to(tmp_path / "in")) for f in files]

    online = load_script("score")  # the online endpoint's entry script, same model
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
    online.init()
    pixels = [np.asarray(Image.open(f), dtype=np.uint8).tolist() for f in files]
    answer = online.run(json.dumps({"data": pixels}))
    assert [int(r[1]) for r in rows] == answer["predictions"]
    best = [max(p) for p in answer["probabilities"]]
    assert all(abs(float(r[2]) - b) < 1e-5 for r, b in zip(rows, best, strict=True))
