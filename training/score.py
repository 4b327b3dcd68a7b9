"""Azure ML entry script for the digits model: ``init()`` once, then ``run()`` per request.

Azure ML sets ``AZUREML_MODEL_DIR`` to the registered model's folder; the artefact is
either directly inside (``<dir>/model.pt2``) or one level down (``<dir>/<model>/model.pt2``),
depending on how the folder was registered. The model is a ``torch.export`` program that
takes raw 0-255 pixels, so this script needs neither the class definition nor any
preprocessing of its own.

Request: ``{"data": [image, ...]}`` or ``{"input_data": [image, ...]}`` (also
``{"input_data": {"data": [...]}}``, the pandas "split" shape), where an image is 28x28
nested numbers or a flat list of 784, values 0-255. Response: ``{"predictions": [int],
"probabilities": [[10 floats]]}``. Malformed requests raise ``ValueError`` with a message
meant for the caller, which a serving layer turns into a 4xx.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

MODEL_FILE = "model.pt2"
SIZE = 28
MAX_IMAGES = 10_000  # keeps one request's memory bounded

_model: torch.nn.Module | None = None


def find_model(folder: Path) -> Path:
    """``<folder>/model.pt2``, else the only ``<folder>/*/model.pt2``."""
    direct = folder / MODEL_FILE
    if direct.is_file():
        return direct
    nested = sorted(folder.glob(f"*/{MODEL_FILE}"))
    if len(nested) != 1:
        found = ", ".join(str(p) for p in nested) or "none"
        raise RuntimeError(
            f"expected {direct} or exactly one {folder}/<model>/{MODEL_FILE}; found {found}"
        )
    return nested[0]


def init() -> None:
    """Load the model from ``AZUREML_MODEL_DIR``; called once when the server starts."""
    global _model  # noqa: PLW0603 - the entry-script convention keeps state in the module
    folder = os.environ.get("AZUREML_MODEL_DIR")
    if not folder:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: it must name the model's folder")
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    _model = torch.export.load(find_model(Path(folder))).module()


def _images(request: Any) -> list[Any]:
    if not isinstance(request, dict):
        raise ValueError('the request body must be a JSON object: {"data": [[28x28 pixels], ...]}')
    if "data" in request:
        rows = request["data"]
    elif "input_data" in request:
        rows = request["input_data"]
        if isinstance(rows, dict):
            rows = rows.get("data")
    else:
        raise ValueError('the request needs a "data" (or "input_data") field: a list of images')
    if not isinstance(rows, list) or not rows:
        raise ValueError('"data" must be a non-empty list of images')
    if len(rows) > MAX_IMAGES:
        raise ValueError(f"at most {MAX_IMAGES} images per request; got {len(rows)}")
    return rows


def to_tensor(request: Any) -> torch.Tensor:
    """Validate a decoded request and return its images as a float (N, 1, 28, 28) tensor."""
    rows = _images(request)
    try:
        pixels = torch.tensor(rows, dtype=torch.float32)
    except (TypeError, ValueError):
        raise ValueError(
            f"each image must be {SIZE}x{SIZE} numbers or a flat list of {SIZE * SIZE}, "
            "all images the same shape"
        ) from None
    shape = tuple(pixels.shape)
    if shape[1:] in ((SIZE, SIZE), (1, SIZE, SIZE), (SIZE * SIZE,)):
        pixels = pixels.reshape(-1, 1, SIZE, SIZE)
    else:
        raise ValueError(
            f"each image must be {SIZE}x{SIZE} or a flat list of {SIZE * SIZE} values; "
            f"got data of shape {list(shape)}"
        )
    if not torch.isfinite(pixels).all():
        raise ValueError("pixel values must be finite numbers")
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0 or high > 255:
        raise ValueError(f"pixel values must lie in 0-255; got {low:g} to {high:g}")
    return pixels


def run(raw_data: str | bytes) -> dict[str, list[Any]]:
    """Score one request body; see the module docstring for its shape."""
    if _model is None:
        raise RuntimeError("init() has not loaded a model")
    try:
        request = json.loads(raw_data)
    except json.JSONDecodeError as error:
        raise ValueError(f"the request body is not valid JSON: {error}") from None
    pixels = to_tensor(request)
    with torch.no_grad():
        probabilities = torch.softmax(_model(pixels), dim=1)
    return {
        "predictions": probabilities.argmax(1).tolist(),
        "probabilities": probabilities.tolist(),
    }
