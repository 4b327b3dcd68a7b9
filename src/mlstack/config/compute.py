"""Declared compute clusters: ``assets/compute/*.yaml`` read with azure-ai-ml's loader.

The files are Azure ML CLI v2 ``amlcompute`` specs (``name``, ``size``, ``tier``,
``min_instances``, ``max_instances``, ``idle_time_before_scale_down``), so
``az ml compute create -f`` accepts the same file. mlstack accepts only ``amlcompute``
(clusters that scale to zero); every problem of every file is raised as one
``ConfigError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import marshmallow
from pydantic import BaseModel, ConfigDict

from mlstack.config.assets import _azure_ml_quiet, _display, _loader_problems, _spec_files
from mlstack.errors import ConfigError, Problem

COMPUTE_FOLDER = Path("assets") / "compute"
SCHEMA_HELP = "https://aka.ms/ml-cli-v2-compute-aml-yaml-reference"
# Compute names: 2-16 of letters, digits and '-', starting with a letter (Azure ML rule).
_COMPUTE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,15}$")
_TIERS: dict[str, Literal["Dedicated", "LowPriority"]] = {
    "dedicated": "Dedicated",
    "low_priority": "LowPriority",
    "lowpriority": "LowPriority",
}


class ComputeSpec(BaseModel):
    """One declared AmlCompute cluster."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The compute name in the workspace."""
    size: str
    """VM size, e.g. ``Standard_DS3_v2``."""
    tier: Literal["Dedicated", "LowPriority"] = "Dedicated"
    """VM priority, as ARM spells it."""
    min_instances: int = 0
    """Nodes kept running; 0 scales to zero when idle."""
    max_instances: int = 1
    """Upper bound of the autoscaler."""
    idle_seconds: int = 120
    """Idle time before a node is released."""
    description: str = ""
    tags: dict[str, str] = {}
    file: Path
    """The YAML file that declares the cluster (absolute)."""

    @property
    def idle_duration(self) -> str:
        """``idle_seconds`` as the ISO-8601 duration ARM expects (``PT120S``)."""
        return f"PT{self.idle_seconds}S"


def load_compute_specs(project_root: Path, folder: Path | None = None) -> tuple[ComputeSpec, ...]:
    """Every cluster declared under ``folder`` (default ``<root>/assets/compute``)."""
    root = project_root.resolve()
    folder = (folder if folder is not None else root / COMPUTE_FOLDER).resolve()
    specs: list[ComputeSpec] = []
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for file in _spec_files(folder):
        shown = _display(file, root)
        spec, found = _load_one(file)
        problems.extend(Problem(shown, field, reason) for field, reason in found)
        if spec is None:
            continue
        first = seen.setdefault(spec.name.casefold(), file)
        if first != file:
            problems.append(
                Problem(
                    shown,
                    "name",
                    f"{spec.name!r} is also declared in {_display(first, root)}: give each "
                    "compute cluster its own name, or delete one of the files",
                )
            )
        specs.append(spec)
    if problems:
        raise ConfigError(problems)
    return tuple(specs)


def _load_one(file: Path) -> tuple[ComputeSpec | None, list[tuple[str, str]]]:
    compute, found = _read(file)
    if compute is None:
        return None, found
    if compute.type != "amlcompute":
        return None, [
            (
                "type",
                f"{compute.type!r} is not supported by mlstack: declare `type: amlcompute` "
                "(a cluster that scales to zero)",
            )
        ]
    name = str(compute.name or "")
    if not _COMPUTE_NAME.fullmatch(name):
        found.append(
            (
                "name",
                f"{name!r} is not a valid compute name: use 2-16 letters, digits and '-', "
                "starting with a letter",
            )
        )
    found.extend(_scale_problems(compute))
    tier = _TIERS.get(str(compute.tier or "dedicated").lower())
    if tier is None:
        found.append(("tier", f"{compute.tier!r} is not a tier: use dedicated or low_priority"))
    if found or tier is None:
        return None, found
    spec = ComputeSpec(
        name=name,
        size=str(compute.size or "Standard_DS3_v2"),
        tier=tier,
        min_instances=int(compute.min_instances or 0),
        max_instances=int(compute.max_instances or 1),
        idle_seconds=int(
            120 if compute.idle_time_before_scale_down is None
            else compute.idle_time_before_scale_down
        ),
        description=compute.description or "",
        tags={str(k): str(v) for k, v in (compute.tags or {}).items()},
        file=file,
    )  # fmt: skip
    return spec, []


def _scale_problems(compute: Any) -> Iterator[tuple[str, str]]:
    low = int(compute.min_instances or 0)
    high = int(compute.max_instances or 1)
    if low < 0:
        yield "min_instances", f"{low} is negative: use 0 (scale to zero) or more"
    if high < 1:
        yield "max_instances", f"{high} is less than 1: allow at least one node"
    elif low > high:
        yield "min_instances", f"{low} exceeds max_instances {high}: lower it or raise the maximum"
    idle = compute.idle_time_before_scale_down
    if idle is not None and int(idle) < 0:
        yield "idle_time_before_scale_down", f"{idle} is negative: give seconds, e.g. 120"


def _read(file: Path) -> tuple[Any, list[tuple[str, str]]]:
    """azure-ai-ml's compute entity for ``file``, or (None, what its loader objected to)."""
    with _azure_ml_quiet():
        from azure.ai.ml import load_compute  # noqa: PLC0415 - slow import
        from azure.ai.ml.exceptions import MlException  # noqa: PLC0415

        try:
            return load_compute(source=file), []
        except (MlException, marshmallow.ValidationError) as error:
            return None, list(_with_help(_loader_problems(error)))
        except (OSError, UnicodeDecodeError) as error:
            return None, [("", f"cannot read the file ({error}): save it as UTF-8")]


def _with_help(problems: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """The shared loader messages point at the data schema; point at the compute one."""
    for field, reason in problems:
        yield (
            field,
            reason.replace("data schema: ", "compute schema: ").replace(
                "https://aka.ms/ml-cli-v2-data-yaml-reference", SCHEMA_HELP
            ),
        )
