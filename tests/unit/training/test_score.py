"""training/score.py: Azure ML's init()/run() contract on an exported model."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

REPO = Path(__file__).resolve().parents[3]


def load_script(name: str) -> ModuleType:
    """``training/`` is not a package, so load the script by path."""
    spec = importlib.util.spec_from_file_location(
        f"{name}_under_test", REPO / "training" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained but fixed CNN exported the way train.py exports it."""
    trainer = load_script("train")
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    trainer.export_model(trainer.DigitsCNN(), folder / "model.pt2")
    return folder


@pytest.fixture
def score(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_script("score")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
    module.init()
    return module


def images(count: int) -> list[list[list[int]]]:
    return [
        [[(r * 28 + c + 37 * i) % 256 for c in range(28)] for r in range(28)] for i in range(count)
    ]


def expected(model_dir: Path, batch: list[list[list[int]]]) -> torch.Tensor:
    model = torch.export.load(model_dir / "model.pt2").module()
    with torch.no_grad():
        return torch.softmax(model(torch.tensor(batch, dtype=torch.float32).unsqueeze(1)), dim=1)


def test_run_returns_predictions_and_probabilities(score: ModuleType, model_dir: Path) -> None:
    batch = images(3)
    result = score.run(json.dumps({"data": batch}))
    assert sorted(result) == ["predictions", "probabilities"]
    want = expected(model_dir, batch)
    assert result["predictions"] == want.argmax(1).tolist()
    assert all(isinstance(p, int) for p in result["predictions"])
    assert torch.allclose(torch.tensor(result["probabilities"]), want)
    assert all(len(row) == 10 and abs(sum(row) - 1) < 1e-5 for row in result["probabilities"])


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b: {"input_data": b},
        lambda b: {"input_data": {"columns": [], "index": [0, 1], "data": b}},
        lambda b: {"data": [[v for row in image for v in row] for image in b]},  # flat 784
        lambda b: {"data": [[image] for image in b]},  # one channel: 1x28x28
    ],
)
def test_other_request_shapes_give_the_same_answer(score: ModuleType, wrap: object) -> None:
    batch = images(2)
    body = wrap(batch)  # type: ignore[operator]
    assert score.run(json.dumps(body)) == score.run(json.dumps({"data": batch}))


def test_floats_and_bytes_bodies_are_accepted(score: ModuleType) -> None:
    batch = [[[float(v) for v in row] for row in image] for image in images(1)]
    assert (
        score.run(json.dumps({"data": batch}).encode())["predictions"]
        == (score.run(json.dumps({"data": images(1)}))["predictions"])
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"images": []}', 'needs a "data"'),
        ('{"data": []}', "non-empty list"),
        (
            '{"data": [[1, 2, 3]]}',
            r"28x28 or a flat list of 784 values; got data of shape \[1, 3\]",
        ),
        (json.dumps({"data": [[[0] * 27] * 28]}), r"shape \[1, 28, 27\]"),
        (json.dumps({"data": [[0] * 784, [0] * 783]}), "all images the same shape"),
        (json.dumps({"data": [[["x"] * 28] * 28]}), "all images the same shape"),
        (json.dumps({"data": [[[256] * 28] * 28]}), "0-255; got 256 to 256"),
        (json.dumps({"data": [[[-1] * 28] * 28]}), "0-255"),
        ('{"data": [[' + ",".join(["NaN"] * 784) + "]]}", "finite"),
        ('{"data": [0, 0, 0]}', r"shape \[3\]"),
    ],
)
def test_bad_requests_raise_value_error_saying_what_is_wrong(
    score: ModuleType, body: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        score.run(body)


def test_too_many_images_are_refused(score: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score, "MAX_IMAGES", 2)
    with pytest.raises(ValueError, match="at most 2 images"):
        score.run(json.dumps({"data": images(3)}))


def test_init_finds_a_model_one_folder_down(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "digits-cnn").mkdir()
    shutil.copy(model_dir / "model.pt2", tmp_path / "digits-cnn" / "model.pt2")
    module = load_script("score")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    module.init()
    assert module.run(json.dumps({"data": images(1)}))["predictions"] == (
        expected(model_dir, images(1)).argmax(1).tolist()
    )


def test_init_fails_clearly_without_a_single_model(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_script("score")
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    with pytest.raises(RuntimeError, match="AZUREML_MODEL_DIR is not set"):
        module.init()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(model_dir / "model.pt2", tmp_path / name / "model.pt2")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="exactly one"):
        module.init()
    with pytest.raises(RuntimeError, match=r"init\(\) has not loaded a model"):
        module.run(json.dumps({"data": images(1)}))
