"""A training run's output folder, checked before it may become a model version.

``training/train.py`` writes into a hidden sibling (``.<name>.tmp-<pid>``) and renames it
into place after writing ``.mlstack-complete`` last, so a folder is registrable only when
the marker is there, the metrics and lineage parse, and no writer is still at work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.errors import ConfigError, Problem

MARKER = ".mlstack-complete"
METRICS = "metrics.json"
LINEAGE = "lineage.json"


@dataclass(frozen=True)
class Artefact:
    """A complete training output: where it is, its metrics and its lineage."""

    path: Path
    metrics: dict[str, Any]
    lineage: dict[str, Any]


def _json(path: Path, spec: str, field: str, problems: list[Problem]) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        problems.append(
            Problem(spec, field, f"{path} is missing: the training run is incomplete; train again")
        )
    except (OSError, ValueError) as error:
        problems.append(Problem(spec, field, f"{path} is not valid JSON ({error}): train again"))
    else:
        if isinstance(value, dict):
            return value
        problems.append(Problem(spec, field, f"{path} must hold a JSON object: train again"))
    return {}


def read_artefact(path: Path, spec: str = "") -> Artefact:
    """The artefact at ``path``, or a ConfigError naming each reason it cannot be used.

    ``spec`` names the model YAML in the messages.
    """
    spec = spec or str(path)
    writers = sorted(path.parent.glob(f".{path.name}.tmp-*")) if path.parent.is_dir() else []
    if writers:
        reason = (
            f"{path} is still being written ({writers[0].name} exists): "
            "wait for training to finish, then run again"
        )
        raise ConfigError([Problem(spec, "path", reason)])
    if not path.is_dir():
        reason = f"{path} does not exist: train the model first (README, 'Training')"
        raise ConfigError([Problem(spec, "path", reason)])
    problems: list[Problem] = []
    if not (path / MARKER).is_file():
        reason = f"{path} has no {MARKER} marker: the training run did not finish; train again"
        problems.append(Problem(spec, "path", reason))
    metrics = _json(path / METRICS, spec, "path", problems)
    lineage = _json(path / LINEAGE, spec, "path", problems)
    if problems:
        raise ConfigError(problems)
    return Artefact(path, metrics, lineage)


def metric(metrics: dict[str, Any], dotted: str) -> float | None:
    """``metrics["test"]["accuracy"]`` for ``"test.accuracy"``; None when absent or not a number."""
    value: Any = metrics
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
