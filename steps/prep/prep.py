"""Pipeline step `prep_digits`: turn the three raw digit splits into one array file each.

    python prep.py --train DIR --val DIR --test DIR \\
        --out-train DIR --out-val DIR --out-test DIR

Each input is a raw split, ``<label>/<any>.png`` (28x28 grayscale, labels 0-9). Each output
folder gets ``split.npz`` (``images`` uint8 [N, 28, 28], ``labels`` int64 [N], files in
sorted path order with exactly the pixels ``training/train.py`` reads from the PNGs) and
``summary.json`` (``{"files": N, "classes": {label: count}}``). Reading one array file is
much faster than thousands of PNGs, and the train and evaluate steps then read the same
bytes.

The step stands alone (numpy, Pillow and the standard library) so it runs unchanged in
the ``digits-env`` environment on Azure ML, and it has a code folder of its own so that
a change to another step leaves its component digest, and so its reuse, intact. Its
output is byte-for-byte deterministic (fixed zip timestamps), so an unchanged input gives
an unchanged output digest downstream. Bad input is refused before anything is written:
exit code 2 and one line on stderr naming the folder and the fix.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

SPLITS = ("train", "val", "test")
SIZE, CLASSES = 28, 10
ARRAYS, SUMMARY = "split.npz", "summary.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest zip date: no build time in the bytes


class PrepError(Exception):
    """Input this step refuses; the message says which folder and what to do."""


@dataclass(frozen=True)
class Split:
    """One split's images (uint8 [N, 28, 28]) and labels (int64 [N]) in file order."""

    images: np.ndarray[Any, Any]
    labels: np.ndarray[Any, Any]

    def summary(self) -> dict[str, Any]:
        values, counts = np.unique(self.labels, return_counts=True)
        classes = {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
        return {"classes": classes, "files": len(self.labels)}


def _label(folder: Path) -> int:
    """The class a label folder holds, by train.py's rule (a number 0-9)."""
    name = folder.name
    if not (name.isascii() and name.isdigit()) or int(name) >= CLASSES:
        raise PrepError(
            f"{folder}: not a label folder; name each class folder by its digit "
            f"(0-{CLASSES - 1}) and move anything else out of the split"
        )
    return int(name)


def read_split(folder: Path) -> Split:
    """Every ``<label>/*.png`` under ``folder``, in the order train.py's loader reads them."""
    if not folder.is_dir():
        raise PrepError(f"{folder}: not a folder; pass the split's folder (<label>/<any>.png)")
    images: list[np.ndarray[Any, Any]] = []
    labels: list[int] = []
    for label_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        label = _label(label_dir)
        for png in sorted(label_dir.glob("*.png")):
            try:
                with Image.open(png) as image:
                    if image.size != (SIZE, SIZE):
                        raise PrepError(
                            f"{png}: a {image.size[0]}x{image.size[1]} image; every image must "
                            f"be {SIZE}x{SIZE} grayscale: resize it or remove it from {folder}"
                        )
                    images.append(np.array(image.convert("L")))
            except (UnidentifiedImageError, OSError) as error:
                raise PrepError(
                    f"{png}: not a readable PNG ({error}); replace or remove it from {folder}"
                ) from error
            labels.append(label)
    if not images:
        raise PrepError(
            f"{folder}: an empty split (no <label>/*.png images); give it images in "
            f"folders named 0-{CLASSES - 1}, or pass the right folder"
        )
    return Split(np.stack(images), np.array(labels, dtype=np.int64))


def _npz_bytes(arrays: dict[str, np.ndarray[Any, Any]]) -> bytes:
    """What ``np.savez`` writes, minus its wall-clock timestamps, so equal data is equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH), member.getvalue())
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` whole: a reader sees the old file or the new one, never half."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_bytes(data)
    temp.replace(path)


def write_split(split: Split, out: Path) -> None:
    """``split.npz`` and ``summary.json`` into ``out`` (which may exist already)."""
    out.mkdir(parents=True, exist_ok=True)
    _write(out / ARRAYS, _npz_bytes({"images": split.images, "labels": split.labels}))
    summary = json.dumps(split.summary(), indent=2, sort_keys=True) + "\n"
    _write(out / SUMMARY, summary.encode())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for split in SPLITS:
        parser.add_argument(f"--{split}", type=Path, required=True, help=f"raw {split} split")
    for split in SPLITS:
        parser.add_argument(
            f"--out-{split}", type=Path, required=True, help=f"prepared {split} split folder"
        )
    args = parser.parse_args(argv)
    try:
        # read all three before writing any, so a refusal leaves no partial output
        splits = {split: read_split(getattr(args, split)) for split in SPLITS}
        for split, data in splits.items():
            out = getattr(args, f"out_{split}")
            write_split(data, out)
            print(f"{split}: {len(data.labels)} images -> {out / ARRAYS}")
    except PrepError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)  # one line
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
