"""Samples and splits of a manifest (mlstack.workspace.sampling); kept beside the CLI tests."""

from __future__ import annotations

import pytest

from mlstack.content.manifest import FileEntry, Manifest
from mlstack.errors import MlstackError
from mlstack.workspace.sampling import SplitPlan, sample, sample_size, split


def _manifest(labels: dict[str, int]) -> Manifest:
    return Manifest.of(
        FileEntry(f"{label}/{i:03d}.png", i + 1, f"{i:064x}")
        for label, count in labels.items()
        for i in range(count)
    )


MANIFEST = _manifest({"0": 50, "1": 30, "2": 20})


def _paths(manifest: Manifest) -> set[str]:
    return {e.path for e in manifest.entries}


def test_sample_is_fixed_by_the_seed_and_nested() -> None:
    first = sample(MANIFEST, n=30, seed=7)
    assert first == sample(MANIFEST, n=30, seed=7)
    assert first.files == 30 and _paths(first) <= _paths(MANIFEST)
    assert first != sample(MANIFEST, n=30, seed=8)
    assert _paths(sample(MANIFEST, n=10, seed=7)) <= _paths(first)  # larger contains smaller
    assert sample(MANIFEST, fraction=1.0, seed=7) == MANIFEST


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, "exactly one of"),
        ({"n": 3, "fraction": 0.1}, "exactly one of"),
        ({"n": 0}, "at least one file"),
        ({"n": 101}, "use --n 100 or fewer"),
        ({"fraction": 0.0}, "above 0"),
        ({"fraction": 1.5}, "above 0"),
    ],
)
def test_sample_size_refuses_bad_requests(kwargs: dict[str, float], words: str) -> None:
    with pytest.raises(MlstackError, match=words):
        sample_size(100, **kwargs)  # type: ignore[arg-type]


def test_small_fraction_takes_at_least_one_file() -> None:
    assert sample_size(100, fraction=0.001) == 1
    assert sample_size(1797, fraction=0.001) == 2


def test_split_is_disjoint_covering_stable_and_exact() -> None:
    plan = SplitPlan(train=0.8, val=0.1, seed=123)
    parts = split(MANIFEST, plan)
    assert parts == split(MANIFEST, plan)
    assert [parts[n].files for n in ("train", "val", "test")] == [80, 10, 10]
    train, val, test = (_paths(parts[n]) for n in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert train | val | test == _paths(MANIFEST)
    assert split(MANIFEST, SplitPlan(train=0.8, val=0.1, seed=124)) != parts


def test_stratified_split_keeps_every_folder_proportion() -> None:
    parts = split(MANIFEST, SplitPlan(train=0.8, val=0.1, seed=123, stratify_by_folder=True))
    for name, share in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        labels = [e.path.split("/")[0] for e in parts[name].entries]
        assert {label: labels.count(label) for label in "012"} == {
            "0": round(50 * share),
            "1": round(30 * share),
            "2": round(20 * share),
        }


def test_rounding_sums_to_the_total_and_empty_splits_are_left_out() -> None:
    odd = _manifest({"a": 7})
    parts = split(odd, SplitPlan(train=0.5, val=0.25, seed=1))
    assert sum(p.files for p in parts.values()) == 7
    only = split(odd, SplitPlan(train=1.0, val=0.0))
    assert list(only) == ["train"] and only["train"] == odd


@pytest.mark.parametrize(
    ("train", "val", "words"),
    [(0.9, 0.2, "exceed 1"), (-0.1, 0.1, "between 0 and 1"), (0.0, 0.5, "training files")],
)
def test_split_plan_refuses_bad_fractions(train: float, val: float, words: str) -> None:
    with pytest.raises(MlstackError, match=words):
        SplitPlan(train=train, val=val)


def test_plan_describes_itself_like_the_shipped_assets() -> None:
    assert SplitPlan(train=0.8, val=0.1).describe() == "80/10/10"
