"""Pipeline step `evaluate_digits`: score the trained model on the prepared val and test
splits and publish the final model folder with the pipeline's lineage.

    python evaluate.py --model DIR --val DIR --test DIR --out DIR [--threads N]

``--model`` is the train step's output (``model.pt2``, ``metrics.json``, ``lineage.json``,
``training_curve.png``, ``.mlstack-complete``); ``--val`` and ``--test`` are prep step
outputs (``split.npz``). ``--out`` receives the same five files, built in a hidden sibling
(``.<name>.tmp-<pid>``) and renamed into place with ``.mlstack-complete`` written last,
as ``training/train.py`` publishes, so ``mlstack.content.artefact`` accepts it:

- ``metrics.json``: train's, with ``val`` and ``test`` replaced by the numbers measured
  here and ``"evaluated_by": "evaluate_digits"``;
- ``lineage.json``: train's, plus ``pipeline``, ``job`` (the pipeline's id) and ``data``
  (the pipeline's data inputs) when ``MLSTACK_JOB`` carries a ``pipeline``, and
  ``evaluate`` (this job's id and numbers).

The numbers follow train.py's ``evaluate`` exactly (raw 0-255 float pixels, batches of
512, summed cross-entropy over the split), so evaluating the model train just scored
gives train's figures. The script stands alone (torch, numpy and the standard library):
it runs in ``digits-env`` on Azure ML and its code folder is its own, so changing it does
not change the prep or train steps' digests. Bad input: exit code 2, one line on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional name

COMPONENT = "evaluate_digits"
ROLES = ("val", "test")
SIZE, EVAL_BATCH = 28, 512
ARRAYS = "split.npz"
MODEL_FILE, METRICS_FILE = "model.pt2", "metrics.json"
CURVE_FILE, LINEAGE_FILE, MARKER_FILE = "training_curve.png", "lineage.json", ".mlstack-complete"
METRICS_ENV, JOB_ENV = "MLSTACK_METRICS_FILE", "MLSTACK_JOB"
_DATA_KEYS = ("name", "version", "digest")


class EvaluateError(Exception):
    """Input this step refuses; the message says which folder and what to do."""


def load_split(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """A prepared split as train.py's loader gives it: float pixels [N, 1, 28, 28], int64
    labels."""
    path = folder / ARRAYS
    if not path.is_file():
        raise EvaluateError(f"{folder}: no {ARRAYS}; pass a prep_digits output folder")
    try:
        # opened here: np.load leaks its own handle when the zip is damaged
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as arrays:
            images, labels = arrays["images"], arrays["labels"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise EvaluateError(f"{path} is unreadable ({error}): run prep_digits again") from error
    if images.ndim != 3 or images.shape[1:] != (SIZE, SIZE) or len(images) != len(labels):
        raise EvaluateError(f"{path}: not a prepared split; run prep_digits again")
    if not len(images):
        raise EvaluateError(f"{path} holds no images: run prep_digits on a full split")
    return torch.from_numpy(images).unsqueeze(1).float(), torch.from_numpy(labels).to(torch.int64)


def evaluate(model: Callable[[torch.Tensor], torch.Tensor],
             split: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:  # fmt: skip
    """Mean cross-entropy and accuracy over the whole split, summed as train.py sums them."""
    images, labels = split
    loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(labels), EVAL_BATCH):
            x, y = images[start : start + EVAL_BATCH], labels[start : start + EVAL_BATCH]
            logits = model(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum())
    return {"accuracy": correct / len(labels), "loss": loss / len(labels)}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise EvaluateError(f"{path} is unreadable ({error}): run the train step again") from error
    if not isinstance(value, dict):
        raise EvaluateError(f"{path} must hold a JSON object: run the train step again")
    return value


def read_trained(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train's metrics and lineage, after checking the folder is the complete output it
    claims to be (every file the marker lists, with its sha256)."""
    marker = folder / MARKER_FILE
    if not marker.is_file():
        raise EvaluateError(
            f"{folder}: no {MARKER_FILE}, so training did not finish; pass a complete "
            "train_digits output or run the train step again"
        )
    for name, digest in _read_json(marker).get("files", {}).items():
        path = folder / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise EvaluateError(
                f"{path} is missing or differs from {MARKER_FILE}: run the train step again"
            )
    for name in (MODEL_FILE, CURVE_FILE):
        if not (folder / name).is_file():
            raise EvaluateError(f"{folder}: no {name}; pass a complete train_digits output")
    return _read_json(folder / METRICS_FILE), _read_json(folder / LINEAGE_FILE)


def job_context() -> dict[str, Any]:
    """This job (``MLSTACK_JOB``, as the local runner sets it; on Azure ML its run id)."""
    try:
        context = json.loads(os.environ.get(JOB_ENV) or "{}")
    except ValueError as error:
        raise EvaluateError(f"{JOB_ENV} is not JSON ({error}): unset it or fix it") from error
    if not isinstance(context, dict):
        raise EvaluateError(f"{JOB_ENV} must be a JSON object: unset it or fix it")
    if not context.get("id") and os.environ.get("AZUREML_RUN_ID"):
        context["id"] = os.environ["AZUREML_RUN_ID"]
    return context


def final_lineage(
    trained: Mapping[str, Any], job: Mapping[str, Any], measured: Mapping[str, Any]
) -> dict[str, Any]:
    """Train's lineage, re-pointed at the pipeline run that produced the final model."""
    lineage = dict(trained)
    if "pipeline" in job:
        pipeline = job["pipeline"]
        if not isinstance(pipeline, dict):
            raise EvaluateError(f"{JOB_ENV}: `pipeline` must be a JSON object; fix the runner")
        lineage["pipeline"] = pipeline
        lineage["job"] = pipeline.get("id")
        data = [
            {"digest": str(value["digest"]), "name": str(value["name"]), "role": role,
             "version": str(value["version"])}
            for role, value in (pipeline.get("inputs") or {}).items()
            if isinstance(value, dict) and all(value.get(k) is not None for k in _DATA_KEYS)
        ]  # fmt: skip
        if data:  # literal inputs (epochs, seed) are not data
            lineage["data"] = data
    lineage["evaluate"] = {"job": job.get("id"), **{role: measured[role] for role in ROLES}}
    return lineage


def log_rows(measured: Mapping[str, Mapping[str, float]]) -> None:
    """Append ``val_accuracy``, ``val_loss``, ``test_accuracy``, ``test_loss`` to the job's
    metrics file, as ``mlstack.jobs.metrics.log_metric`` writes a value given no step."""
    target = os.environ.get(METRICS_ENV)
    if not target:
        return
    stamp = int(time.time() * 1000)
    with open(target, "a", encoding="utf-8") as handle:  # noqa: PTH123 - as metrics.py appends
        for role in ROLES:
            for key, value in measured[role].items():
                row = {"key": f"{role}_{key}", "step": 0, "timestamp": stamp,
                       "value": float(value)}  # fmt: skip
                handle.write(json.dumps(row, sort_keys=True) + "\n")


def _clear_stale(out: Path) -> None:
    """Remove the temporary siblings (``.<name>.tmp-[old-]<pid>``) of crashed runs."""
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        pid = stale.name.rpartition("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            continue


def publish(out: Path, write: Callable[[Path], None]) -> None:
    """Build the folder at ``.<name>.tmp-<pid>`` beside ``out``, marker last, then swap it
    in (train.py's ``publish``): ``out`` is at any moment absent, old or complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(out)
    temp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.tmp-old-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        write(temp)
        sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(temp.iterdir())}
        (temp / MARKER_FILE).write_text(json.dumps({"files": sums}, indent=2, sort_keys=True))
        if out.exists():
            out.rename(old)
        try:
            temp.rename(out)
        except OSError:
            if old.exists():
                old.rename(out)
            raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _dump(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def run(model_dir: Path, splits: Mapping[str, Path], out: Path) -> dict[str, Any]:
    """Evaluate ``model_dir`` on ``splits`` (val, test), publish ``out``; return the metrics."""
    trained_metrics, trained_lineage = read_trained(model_dir)
    job = job_context()
    data = {role: load_split(splits[role]) for role in ROLES}
    try:
        model = torch.export.load(model_dir / MODEL_FILE).module()
    except Exception as error:  # torch raises many types for a foreign or damaged file
        raise EvaluateError(
            f"{model_dir / MODEL_FILE} does not load as a torch.export program ({error}): "
            "run the train step again"
        ) from error
    measured = {role: evaluate(model, data[role]) for role in ROLES}
    metrics = {**trained_metrics, **measured, "evaluated_by": COMPONENT}
    lineage = final_lineage(trained_lineage, job, measured)

    def write(folder: Path) -> None:
        shutil.copyfile(model_dir / MODEL_FILE, folder / MODEL_FILE)
        shutil.copyfile(model_dir / CURVE_FILE, folder / CURVE_FILE)
        _dump(folder / METRICS_FILE, metrics)
        _dump(folder / LINEAGE_FILE, lineage)

    publish(out, write)
    log_rows(measured)
    return metrics


def default_threads() -> int:
    """All usable cores but one, as train.py: more only adds contention for this model."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="train_digits output folder")
    for role in ROLES:
        parser.add_argument(f"--{role}", type=Path, required=True, help=f"prepared {role} split")
    parser.add_argument("--out", type=Path, required=True, help="final model folder")
    parser.add_argument("--threads", type=int, default=default_threads(), help="CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with suppress(RuntimeError):  # fixed for good once parallel work has run in this process
        torch.set_num_interop_threads(1)
    try:
        metrics = run(args.model, {role: getattr(args, role) for role in ROLES}, args.out)
    except EvaluateError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)  # one line
        return 2
    test = metrics["test"]
    print(f"test accuracy {test['accuracy']:.4f}, loss {test['loss']:.4f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
