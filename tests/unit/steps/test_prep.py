"""steps/prep/prep.py: raw PNG splits to split.npz that train.py reads as the same tensors."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from PIL import Image

from mlstack.errors import MlstackError

REPO = Path(__file__).resolve().parents[3]
SPLITS = ("train", "val", "test")


def load_script(path: Path, name: str) -> ModuleType:
    """``steps/`` and ``training/`` are not packages, so load the scripts by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    # no __pycache__ in a step's code folder: it would change the component's digest
    written, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = written
    return module


@pytest.fixture(scope="module")
def prep() -> ModuleType:
    return load_script(REPO / "steps" / "prep" / "prep.py", "prep_under_test")


@pytest.fixture(scope="module")
def trainer() -> ModuleType:
    return load_script(REPO / "training" / "train.py", "train_for_prep_test")


def write_split(folder: Path, counts: dict[int, int], seed: int) -> None:
    """Random 28x28 digits; names that sort differently as text and as numbers, and one
    RGB image, so the order and the grayscale conversion are both put to the test."""
    rng = np.random.default_rng(seed)
    for label, count in counts.items():
        (folder / str(label)).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / str(label) / f"{i * 5}.png")
    colour = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
    Image.fromarray(colour).save(folder / str(next(iter(counts))) / "rgb.png")
    (folder / str(next(iter(counts))) / "notes.txt").write_text("not an image")  # ignored


@pytest.fixture
def raw(tmp_path: Path) -> dict[str, Path]:
    counts = {"train": {0: 3, 3: 4, 9: 2}, "val": {1: 2, 3: 1}, "test": {0: 1, 7: 3}}
    for n, split in enumerate(SPLITS):
        write_split(tmp_path / "raw" / split, counts[split], seed=n)
    return {split: tmp_path / "raw" / split for split in SPLITS}


def args(raw: dict[str, Path], out: Path) -> list[str]:
    ins = [arg for split in SPLITS for arg in (f"--{split}", str(raw[split]))]
    outs = [arg for split in SPLITS for arg in (f"--out-{split}", str(out / split))]
    return ins + outs


def test_a_prepared_split_loads_as_the_same_tensors_as_its_pngs(
    prep: ModuleType, trainer: ModuleType, raw: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "prepared"
    assert prep.main(args(raw, out)) == 0
    for split in SPLITS:
        assert sorted(p.name for p in (out / split).iterdir()) == ["split.npz", "summary.json"]
        from_pngs = trainer.load_split(raw[split]).tensors
        prepared = trainer.load_split(out / split).tensors
        assert [t.dtype for t in prepared] == [torch.float32, torch.int64]
        assert prepared[0].shape == from_pngs[0].shape and prepared[0].shape[1:] == (1, 28, 28)
        assert torch.equal(prepared[0], from_pngs[0]) and torch.equal(prepared[1], from_pngs[1])
        with np.load(out / split / "split.npz") as arrays:
            assert sorted(arrays.files) == ["images", "labels"]
            assert (arrays["images"].dtype, arrays["labels"].dtype) == (np.uint8, np.int64)


def test_the_summary_counts_files_per_class(
    prep: ModuleType, raw: dict[str, Path], tmp_path: Path
) -> None:
    assert prep.main(args(raw, tmp_path / "out")) == 0
    summary = json.loads((tmp_path / "out" / "train" / "summary.json").read_text())
    assert summary == {"files": 10, "classes": {"0": 4, "3": 4, "9": 2}}  # + the RGB one in 0


def test_existing_output_folders_are_written_into_with_identical_bytes(
    prep: ModuleType, raw: dict[str, Path], tmp_path: Path
) -> None:
    """Azure ML creates the output folders; and equal input must give equal output bytes,
    or every step downstream would look changed."""
    first, second = tmp_path / "first", tmp_path / "second"
    for split in SPLITS:
        (second / split).mkdir(parents=True)
    assert prep.main(args(raw, first)) == 0
    assert prep.main(args(raw, second)) == 0
    for split in SPLITS:
        for name in ("split.npz", "summary.json"):
            assert (first / split / name).read_bytes() == (second / split / name).read_bytes()
    assert prep.main(args(raw, second)) == 0  # again over its own output
    assert sorted(p.name for p in (second / "val").iterdir()) == ["split.npz", "summary.json"]


def _empty(folder: Path) -> Path:
    for png in folder.rglob("*.png"):
        png.unlink()
    return folder


def _stray_folder(folder: Path) -> Path:
    (folder / "cats").mkdir()
    return folder / "cats"


def _class_ten(folder: Path) -> Path:
    (folder / "10").mkdir()
    return folder / "10"


def _wrong_size(folder: Path) -> Path:
    Image.fromarray(np.zeros((28, 27), dtype=np.uint8)).save(folder / "1" / "wide.png")
    return folder / "1" / "wide.png"


def _not_a_png(folder: Path) -> Path:
    (folder / "3" / "broken.png").write_bytes(b"not a png")
    return folder / "3" / "broken.png"


@pytest.mark.parametrize(
    "case",
    [
        (_empty, "empty split"),
        (_stray_folder, "name each class folder by its digit"),
        (_class_ten, "name each class folder by its digit"),
        (_wrong_size, "must be 28x28"),
        (_not_a_png, "not a readable PNG"),
    ],
)
def test_bad_input_is_refused_with_exit_2_one_line_and_nothing_written(
    prep: ModuleType, raw: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], case: tuple[Callable[[Path], Path], str],
) -> None:  # fmt: skip
    damage, said = case
    named = damage(raw["val"])
    out = tmp_path / "out"
    assert prep.main(args(raw, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert str(named) in err and said in err
    assert not out.exists()  # train is fine, but nothing is written before all are read


def test_a_missing_input_folder_is_refused(
    prep: ModuleType, raw: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = {**raw, "test": tmp_path / "nowhere"}
    assert prep.main(args(raw, tmp_path / "out")) == 2
    assert f"{tmp_path / 'nowhere'}: not a folder" in capsys.readouterr().err


def test_train_refuses_a_damaged_prepared_split(trainer: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "split.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(MlstackError, match="run prep again"):
        trainer.load_split(tmp_path)
    np.savez(tmp_path / "split.npz", images=np.zeros((2, 28, 28), np.uint8), labels=np.zeros(3))
    with pytest.raises(MlstackError, match="not a prepared split"):
        trainer.load_split(tmp_path)
