"""Write a real handwritten-digits image dataset as PNG files, ready to declare as assets.

    python training/prepare_data.py [--out data/digits] [--seed 123] [--source sklearn|mnist]

Layout: ``<out>/<split>/<label>/<index>.png`` with splits train/val/test (80/10/10,
stratified per class, fixed seed), where ``<index>`` is the sample's position in the
source dataset, so a file names the same digit whatever the seed.

Sources:

- ``sklearn`` (default, offline): scikit-learn's bundled ``load_digits`` — 1,797
  8x8 images with values 0-16. They are scaled to 0-255 and upscaled with PIL to a
  20x20 digit centred in a 28x28 frame, the way MNIST frames its digits, so the same
  small CNN fits either source.
- ``mnist`` (needs internet once): torchvision's MNIST, train and test pooled
  (70,000 images, 28x28) and split like the above.

The output is deterministic and the script is idempotent, because mlstack versions data
by content and keys its hash cache on file stats: the same seed gives byte-identical
PNGs (no timestamps, fixed encoder options), identical files are left untouched (their
mtimes stay), and files that no longer belong to a split are removed.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image
from rich.progress import Progress
from sklearn.datasets import load_digits

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data" / "digits"
DEFAULT_CACHE = ROOT / ".mlstack" / "cache" / "mnist"
DEFAULT_SEED = 123
SPLITS: tuple[tuple[str, float], ...] = (("train", 0.8), ("val", 0.1), ("test", 0.1))
SIZE = 28
DIGIT_BOX = 20  # MNIST fits each digit in a 20x20 box centred in the 28x28 frame

Images = npt.NDArray[np.uint8]
Labels = npt.NDArray[np.int64]
Indices = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SplitStats:
    """What one run did to one split's folder."""

    images: int
    written: int
    unchanged: int
    removed: int


def load_sklearn_digits() -> tuple[Images, Labels]:
    """scikit-learn's bundled digits as (N, 28, 28) uint8 images and their labels."""
    bunch = load_digits()
    return upscale_digits(np.asarray(bunch.images)), np.asarray(bunch.target, dtype=np.int64)


def upscale_digits(images: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> Images:
    """8x8 images with values 0-16 to 28x28 uint8, the digit in a centred 20x20 box."""
    scaled = np.rint(np.asarray(images, dtype=np.float64) * (255.0 / 16.0))
    small = np.clip(scaled, 0, 255).astype(np.uint8)
    out = np.zeros((len(small), SIZE, SIZE), dtype=np.uint8)
    margin = (SIZE - DIGIT_BOX) // 2
    for i, image in enumerate(small):
        box = Image.fromarray(image).resize((DIGIT_BOX, DIGIT_BOX), Image.Resampling.BICUBIC)
        out[i, margin : margin + DIGIT_BOX, margin : margin + DIGIT_BOX] = np.asarray(box)
    return out


def load_mnist(cache: Path) -> tuple[Images, Labels]:
    """torchvision's MNIST (downloaded once into ``cache``), train and test pooled."""
    from torchvision.datasets import MNIST  # noqa: PLC0415 - heavy, and only this source needs it

    parts = [MNIST(root=str(cache), train=train, download=True) for train in (True, False)]
    images = np.concatenate([part.data.numpy() for part in parts]).astype(np.uint8)
    labels = np.concatenate([part.targets.numpy() for part in parts]).astype(np.int64)
    return images, labels


def split_indices(labels: Labels, seed: int) -> dict[str, Indices]:
    """Stratified 80/10/10: each class is shuffled and cut on its own, so every split
    holds each digit in proportion (within one image); indices come back sorted."""
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[Indices]] = {name: [] for name, _ in SPLITS}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        sizes = [round(len(members) * fraction) for _, fraction in SPLITS[1:]]
        cuts = np.cumsum([len(members) - sum(sizes), *sizes])[:-1]
        for (name, _), part in zip(SPLITS, np.split(members, cuts), strict=True):
            chosen[name].append(part)
    return {name: np.sort(np.concatenate(parts)).astype(np.int64) for name, parts in chosen.items()}


def encode_png(image: Images) -> bytes:
    """Grayscale PNG with fixed encoder options and no metadata, so bytes are reproducible."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(
        buffer, format="PNG", optimize=False, compress_level=6
    )
    return buffer.getvalue()


def write_split(
    out: Path,
    split: str,
    images: Images,
    labels: Labels,
    indices: Indices,
    *,
    width: int,
    advance: Callable[[int], None] | None = None,
) -> SplitStats:
    """Make ``<out>/<split>`` hold exactly these images, touching only what differs."""
    folder = out / split
    wanted: set[Path] = set()
    written = unchanged = 0
    for index in indices.tolist():
        target = folder / str(int(labels[index])) / f"{index:0{width}d}.png"
        wanted.add(target)
        if _write_if_changed(target, encode_png(images[index])):
            written += 1
        else:
            unchanged += 1
        if advance is not None:
            advance(1)
    removed = _remove_strays(folder, wanted)
    return SplitStats(len(indices), written, unchanged, removed)


def prepare(
    out: Path, images: Images, labels: Labels, seed: int, *, progress: bool = False
) -> dict[str, SplitStats]:
    """Split ``images`` and write every split under ``out``; returns per-split stats.

    Only ``<out>/train``, ``<out>/val`` and ``<out>/test`` are managed (strays are
    removed there and nowhere else), so a mistyped ``--out`` cannot empty a folder.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    width = len(str(max(len(images) - 1, 0)))
    parts = split_indices(labels, seed)
    if not progress:
        return {
            name: write_split(out, name, images, labels, parts[name], width=width)
            for name, _ in SPLITS
        }
    stats: dict[str, SplitStats] = {}
    with Progress() as bar:
        for name, _ in SPLITS:
            task = bar.add_task(f"writing {name}", total=len(parts[name]))
            stats[name] = write_split(
                out,
                name,
                images,
                labels,
                parts[name],
                width=width,
                advance=functools.partial(bar.advance, task),
            )
    return stats


def _write_if_changed(target: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds ``data``; True if written."""
    try:
        if target.stat().st_size == len(data) and target.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    partial.replace(target)
    return True


def _remove_strays(folder: Path, wanted: set[Path]) -> int:
    """Delete files under ``folder`` not in ``wanted``, then any folder left empty."""
    removed = 0
    if not folder.is_dir():
        return removed
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
        here = Path(dirpath)
        for filename in filenames:
            path = here / filename
            if path not in wanted:
                path.unlink()
                removed += 1
        for dirname in dirnames:
            sub = here / dirname
            if not sub.is_symlink() and not any(sub.iterdir()):
                sub.rmdir()
    return removed


def summary(out: Path, stats: dict[str, SplitStats]) -> str:
    """A few lines a person reads after the run."""
    lines = [f"digits dataset in {out}:"]
    for name, s in stats.items():
        lines.append(
            f"  {name:<5} {s.images:>6} images  ({s.written} written, {s.unchanged} unchanged, "
            f"{s.removed} removed)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="split seed")
    parser.add_argument("--source", choices=("sklearn", "mnist"), default="sklearn")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="MNIST download folder")
    args = parser.parse_args(argv)

    if args.source == "mnist":
        images, labels = load_mnist(args.cache)
    else:
        images, labels = load_sklearn_digits()
    out = args.out.resolve()
    stats = prepare(out, images, labels, args.seed, progress=args.source == "mnist")
    sys.stdout.write(summary(out, stats) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
