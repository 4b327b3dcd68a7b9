"""Azure ML batch scoring script for the digits model: ``init()`` once per worker process,
then ``run(mini_batch)`` per mini-batch of PNG file paths, as ParallelRunStep calls it.

The model loading is ``score.py``'s (``AZUREML_MODEL_DIR``, a ``torch.export`` program
over raw 0-255 pixels). Each returned row is ``<folder>/<file>,<prediction>,<probability>``
(for the digits layout, ``<label>/<index>.png``); with ``output_action: append_row`` Azure
ML (and ``mlstack batch invoke``) appends every row to ``predictions.csv``. A file that is
not a 28x28 grayscale image fails its mini-batch, which is retried and then counted
against ``error_threshold``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # score.py beside this script

import score  # needs the path above

_model: torch.nn.Module | None = None


def init() -> None:
    """Load the model from ``AZUREML_MODEL_DIR``, one thread per worker process."""
    global _model  # noqa: PLW0603 - the entry-script convention keeps state in the module
    folder = os.environ.get("AZUREML_MODEL_DIR")
    if not folder:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: it must name the model's folder")
    torch.set_num_threads(1)  # parallelism comes from the worker processes
    _model = torch.export.load(score.find_model(Path(folder))).module()


def run(mini_batch: list[str]) -> list[str]:
    """Score the mini-batch's images; one CSV row per file."""
    if _model is None:
        raise RuntimeError("init() has not loaded a model")
    if not mini_batch:
        return []
    images = [np.asarray(Image.open(path).convert("L"), dtype=np.float32) for path in mini_batch]
    pixels = score.to_tensor({"data": [image.tolist() for image in images]})
    with torch.no_grad():
        probabilities = torch.softmax(_model(pixels), dim=1)
    best, labels = probabilities.max(1)
    return [
        f"{Path(path).parent.name}/{Path(path).name},{int(label)},{float(p):.6f}"
        for path, label, p in zip(mini_batch, labels.tolist(), best.tolist(), strict=True)
    ]
