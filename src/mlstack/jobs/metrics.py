"""Metrics a training script reports: one call that works locally and on Azure ML.

    from mlstack.jobs.metrics import log_metric
    log_metric("val_accuracy", 0.93, step=epoch)

On Azure ML, jobs read metrics through MLflow (the service sets ``MLFLOW_TRACKING_URI``
and ``MLFLOW_RUN_ID`` in the job's environment), so when MLflow is importable and a run
is active or configured, the value goes to ``mlflow.log_metric``. Locally the job runner
sets ``MLSTACK_METRICS_FILE``; each value is appended there as one JSON line, flushed at
once, so a sweeper tailing the file sees every epoch as it ends. With neither, the call
does nothing, so a script run by hand needs no setup.

The module imports only the standard library: MLflow is imported on first use and only
if the environment says a run is there. A full MLflow (and its tracking server or
SQLAlchemy store) is not needed for local jobs: the file holds exactly what the job
record and the early-termination policies read, in the shape MLflow's own
``(key, value, step, timestamp)`` metric rows have.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "METRICS_ENV",
    "Metric",
    "MetricsTail",
    "log_metric",
    "log_metrics",
    "read_metrics",
    "series",
    "summary",
]

METRICS_ENV = "MLSTACK_METRICS_FILE"


@dataclass(frozen=True)
class Metric:
    """One reported value, as an MLflow metric row: key, value, step, timestamp (ms)."""

    key: str
    value: float
    step: int
    timestamp: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "step": self.step, "timestamp": self.timestamp,
                "value": self.value}  # fmt: skip


def _mlflow() -> Any | None:
    """The mlflow module if a run is active (Azure ML jobs) or configured; else None."""
    if "mlflow" not in sys.modules and not os.environ.get("MLFLOW_RUN_ID"):
        return None
    try:
        mlflow = importlib.import_module("mlflow")  # optional, and heavy
    except ImportError:
        return None
    if mlflow.active_run() is None and not os.environ.get("MLFLOW_RUN_ID"):
        return None
    return mlflow


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Report ``value`` of ``key`` at ``step`` (e.g. the epoch) to wherever the job reads."""
    mlflow = _mlflow()
    if mlflow is not None:
        mlflow.log_metric(key, float(value), step=step)
        return
    target = os.environ.get(METRICS_ENV)
    if not target:
        return
    row = Metric(key, float(value), int(step or 0), int(time.time() * 1000))
    # one write() of one line with O_APPEND: readers never see half a row
    with open(target, "a", encoding="utf-8") as handle:  # noqa: PTH123
        handle.write(json.dumps(row.to_dict(), sort_keys=True) + "\n")


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Several values at one step (MLflow's ``log_metrics``)."""
    for key, value in metrics.items():
        log_metric(key, value, step)


def _parse(lines: Iterable[str]) -> list[Metric]:
    rows = []
    for line in lines:
        try:
            raw = json.loads(line)
            rows.append(Metric(str(raw["key"]), float(raw["value"]), int(raw["step"]),
                               int(raw["timestamp"])))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            continue  # a torn or foreign line is not a metric
    return rows


def read_metrics(path: Path) -> list[Metric]:
    """Every row of a metrics file, in the order reported; none if there is no file."""
    try:
        return _parse(path.read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        return []


class MetricsTail:
    """Reads a metrics file incrementally: each ``poll`` returns only the new rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def poll(self) -> list[Metric]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # leave a line still being written for the next poll
        self._offset += end
        return _parse(data[:end].decode("utf-8").splitlines())


def series(rows: Iterable[Metric], key: str) -> list[float]:
    """The values of ``key`` in report order: report n is interval n of the policies."""
    return [row.value for row in rows if row.key == key]


def summary(rows: Iterable[Metric]) -> dict[str, float]:
    """The last value reported for each key."""
    last: dict[str, float] = {}
    for row in rows:
        last[row.key] = row.value
    return dict(sorted(last.items()))
