"""Reproducible samples and train/validation/test splits of a folder asset's manifest.

Both work on the manifest alone (paths, sizes, sha256), so they cost no transfer and give
the same answer on either target. Order comes from ``sha256(seed, path)`` rather than
Python's ``random``: the answer for a seed is then fixed by this module, not by an
interpreter version, and a larger sample of the same seed contains the smaller one.
"""

from __future__ import annotations

import hashlib
import math
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mlstack.content.manifest import FileEntry, Manifest
from mlstack.errors import MlstackError

__all__ = ["SPLITS", "SplitPlan", "sample", "sample_size", "split"]

SPLITS = ("train", "val", "test")


def _rank(seed: int, entry: FileEntry) -> bytes:
    return hashlib.sha256(f"{seed}\0{entry.path}".encode()).digest()


def _shuffled(entries: Iterable[FileEntry], seed: int) -> list[FileEntry]:
    return sorted(entries, key=lambda e: _rank(seed, e))


def sample_size(files: int, *, n: int | None = None, fraction: float | None = None) -> int:
    """How many of ``files`` a sample takes: exactly ``n``, or ``fraction`` (at least one)."""
    if (n is None) == (fraction is None):
        raise MlstackError("give exactly one of --n N or --fraction F")
    if n is not None:
        if n < 1:
            raise MlstackError(f"--n {n}: a sample needs at least one file")
        if n > files:
            raise MlstackError(
                f"--n {n} asks for more files than the asset holds ({files}): use --n {files} "
                "or fewer"
            )
        return n
    assert fraction is not None  # for mypy: exactly one is set, checked above
    if not 0 < fraction <= 1:
        raise MlstackError(f"--fraction {fraction}: give a fraction above 0 and at most 1")
    return max(1, round(fraction * files))


def sample(
    manifest: Manifest, *, n: int | None = None, fraction: float | None = None, seed: int = 0
) -> Manifest:
    """A random subset of ``manifest``: the same files for the same seed, every time."""
    size = sample_size(manifest.files, n=n, fraction=fraction)
    return Manifest.of(_shuffled(manifest.entries, seed)[:size])


@dataclass(frozen=True)
class SplitPlan:
    """The fractions of a split; ``test`` is what train and val leave."""

    train: float
    val: float
    seed: int = 123
    stratify_by_folder: bool = False

    def __post_init__(self) -> None:
        for name, value in (("--train", self.train), ("--val", self.val)):
            if not 0 <= value <= 1:
                raise MlstackError(f"{name} {value}: give a fraction between 0 and 1")
        if self.train + self.val > 1 + 1e-9:
            raise MlstackError(
                f"--train {self.train} + --val {self.val} exceed 1: the rest is the test split, "
                "so keep the sum at most 1"
            )
        if self.train <= 0:
            raise MlstackError("--train must be above 0: a split needs training files")

    @property
    def test(self) -> float:
        return max(0.0, 1 - self.train - self.val)

    @property
    def fractions(self) -> dict[str, float]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def describe(self) -> str:
        """``80/10/10``, the way the shipped digits assets describe theirs."""
        return "/".join(f"{round(f * 100):g}" for f in self.fractions.values())


def _counts(total: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Largest-remainder rounding: the counts sum to ``total`` and follow the fractions."""
    exact = {name: total * f for name, f in fractions.items()}
    counts = {name: math.floor(value) for name, value in exact.items()}
    left = total - sum(counts.values())
    # Ties go to the earlier split (train before val before test), a fixed order.
    order = sorted(fractions, key=lambda name: (-(exact[name] - counts[name]), SPLITS.index(name)))
    for name in order[:left]:
        counts[name] += 1
    return counts


def split(manifest: Manifest, plan: SplitPlan) -> dict[str, Manifest]:
    """Disjoint manifests named train/val/test whose union is ``manifest``.

    With ``stratify_by_folder`` each folder (e.g. one per label) is split on its own, so
    every split keeps the folders' proportions. Splits that get no file are left out.
    """
    groups: dict[str, list[FileEntry]] = {}
    for entry in manifest.entries:
        key = posixpath.dirname(entry.path) if plan.stratify_by_folder else ""
        groups.setdefault(key, []).append(entry)
    chosen: dict[str, list[FileEntry]] = {name: [] for name in SPLITS}
    for key in sorted(groups):
        ordered = _shuffled(groups[key], plan.seed)
        start = 0
        for name, count in _counts(len(ordered), plan.fractions).items():
            chosen[name].extend(ordered[start : start + count])
            start += count
    return {name: Manifest.of(entries) for name, entries in chosen.items() if entries}
