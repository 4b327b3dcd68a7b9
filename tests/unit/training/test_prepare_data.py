from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from mlstack.config.assets import load_data_specs

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "training" / "prepare_data.py"
SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def prep() -> ModuleType:
    """The script as a module: ``training/`` is not a package, so load it by path."""
    spec = importlib.util.spec_from_file_location("prepare_data_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def digits(prep: ModuleType) -> tuple[np.ndarray, np.ndarray]:
    return prep.load_sklearn_digits()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def subset(digits: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """200 images: enough for every class in every split, quick to write."""
    images, labels = digits
    return images[:200], labels[:200]


def files_of(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_sklearn_digits_become_mnist_sized_grayscale(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, labels = digits
    assert images.shape == (1797, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))
    # MNIST-style framing: a 4-pixel empty margin around a 20x20 digit box
    assert not images[:, :4, :].any() and not images[:, -4:, :].any()
    assert not images[:, :, :4].any() and not images[:, :, -4:].any()
    assert images.max() == 255


def test_upscale_maps_0_16_to_0_255(prep: ModuleType) -> None:
    full = prep.upscale_digits(np.full((1, 8, 8), 16.0))
    empty = prep.upscale_digits(np.zeros((1, 8, 8)))
    assert full[0, 4:24, 4:24].min() == 255 and not empty.any()


def test_splits_are_80_10_10_within_one_per_class(
    prep: ModuleType, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    _, labels = digits
    parts = prep.split_indices(labels, 123)
    together = np.concatenate([parts[s] for s in SPLITS])
    assert sorted(together.tolist()) == list(range(len(labels)))  # disjoint and complete
    for label in range(10):
        members = set(np.flatnonzero(labels == label).tolist())
        for split, fraction in zip(SPLITS, (0.8, 0.1, 0.1), strict=True):
            count = len(members & set(parts[split].tolist()))
            assert abs(count - fraction * len(members)) <= 1, (label, split, count)


def test_the_split_depends_on_the_seed_only(
    prep: ModuleType, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    _, labels = digits
    first, again, other = (prep.split_indices(labels, seed) for seed in (123, 123, 7))
    assert all(np.array_equal(first[s], again[s]) for s in SPLITS)
    assert not np.array_equal(first["test"], other["test"])


def test_writes_decodable_28x28_grayscale_pngs_in_label_folders(
    prep: ModuleType, subset: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = subset
    stats = prep.prepare(tmp_path, images, labels, 123)
    assert sum(s.images for s in stats.values()) == 200
    assert [s.written for s in stats.values()] == [s.images for s in stats.values()]
    pngs = sorted(tmp_path.rglob("*.png"))
    assert len(pngs) == 200
    for png in pngs:
        split, label, name = png.relative_to(tmp_path).parts
        index = int(name.removesuffix(".png"))
        assert split in SPLITS and int(label) == labels[index]
        with Image.open(png) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "L", (28, 28))
            assert np.array_equal(np.asarray(image), images[index])
        assert b"tIME" not in png.read_bytes()


def test_same_seed_same_bytes_other_seed_other_assignment(
    prep: ModuleType, subset: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = subset
    for name, seed in (("a", 123), ("b", 123), ("c", 5)):
        prep.prepare(tmp_path / name, images, labels, seed)
    a, b, c = (files_of(tmp_path / name) for name in "abc")
    assert a == b
    assert set(a) != set(c)
    assert sorted(a.values()) == sorted(c.values())  # same images, other splits


def test_a_second_run_rewrites_nothing_and_removes_strays(
    prep: ModuleType, subset: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = subset
    prep.prepare(tmp_path, images, labels, 123)
    old = 1_000_000_000_000_000_000  # 2001, in ns: any rewrite would move it
    for png in tmp_path.rglob("*.png"):
        os.utime(png, ns=(old, old))
    (tmp_path / "train" / "3" / "stray.png").write_bytes(b"not ours")
    (tmp_path / "val" / "extra" / "deep").mkdir(parents=True)
    (tmp_path / "val" / "extra" / "deep" / "x.txt").write_text("x")
    (tmp_path / "keep.txt").write_text("outside the managed splits")

    stats = prep.prepare(tmp_path, images, labels, 123)

    assert [s.written for s in stats.values()] == [0, 0, 0]
    assert sum(s.unchanged for s in stats.values()) == 200
    assert (stats["train"].removed, stats["val"].removed) == (1, 1)
    assert all(p.stat().st_mtime_ns == old for p in tmp_path.rglob("*.png"))
    assert not (tmp_path / "train" / "3" / "stray.png").exists()
    assert not (tmp_path / "val" / "extra").exists()
    assert (tmp_path / "keep.txt").exists()


def test_the_progress_bar_path_writes_the_same_files(
    prep: ModuleType, subset: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = subset
    plain = prep.prepare(tmp_path / "plain", images, labels, 123)
    shown = prep.prepare(tmp_path / "shown", images, labels, 123, progress=True)
    assert plain == shown
    assert files_of(tmp_path / "plain") == files_of(tmp_path / "shown")


def test_a_changed_file_is_rewritten(
    prep: ModuleType, subset: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = subset
    prep.prepare(tmp_path, images, labels, 123)
    victim = next(tmp_path.rglob("*.png"))
    good = victim.read_bytes()
    victim.write_bytes(b"corrupt")
    stats = prep.prepare(tmp_path, images, labels, 123)
    assert sum(s.written for s in stats.values()) == 1
    assert victim.read_bytes() == good


def test_the_command_line_writes_the_full_dataset(
    prep: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert prep.main(["--out", str(tmp_path / "digits"), "--seed", "123"]) == 0
    said = capsys.readouterr().out
    counts = {s: len(list((tmp_path / "digits" / s).rglob("*.png"))) for s in SPLITS}
    assert sum(counts.values()) == 1797
    assert counts["val"] == counts["test"] and abs(counts["train"] - 0.8 * 1797) <= 10
    assert f"{counts['train']} images" in said


def test_the_shipped_data_assets_load_after_prepare(
    prep: ModuleType, subset: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = subset
    shutil.copytree(REPO / "assets" / "data", tmp_path / "assets" / "data")
    prep.prepare(tmp_path / "data" / "digits", images, labels, 123)
    specs = {s.name: s for s in load_data_specs(tmp_path)}
    assert sorted(specs) == ["digits-test", "digits-train", "digits-val"]
    for split in SPLITS:
        spec = specs[f"digits-{split}"]
        assert spec.path == (tmp_path / "data" / "digits" / split).resolve()
        assert spec.tags["split"] == split and spec.version is None
