"""Declared compute clusters: ``assets/compute/*.yaml`` read with azure-ai-ml's loader.

The files are Azure ML CLI v2 ``amlcompute`` specs (``name``, ``size``, ``tier``,
``min_instances``, ``max_instances``, ``idle_time_before_scale_down``), so
``az ml compute create -f`` accepts the same file. mlstack accepts only ``amlcompute``
(clusters that scale to zero); every problem of every file is raised as one
``ConfigError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mlstack.config.specfile import SpecKind, display, duplicate_reason, load_entity, spec_files
from mlstack.errors import ConfigError, Problem

COMPUTE_FOLDER = Path("assets") / "compute"
SCHEMA_HELP = "https://aka.ms/ml-cli-v2-compute-aml-yaml-reference"
COMPUTE = SpecKind(
    noun="compute cluster",
    help_url=SCHEMA_HELP,
    schema="compute schema",
    rejects_help=SCHEMA_HELP,
)
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
    for file in spec_files(folder):
        shown = display(file, root)
        spec, found = _load_one(file)
        problems.extend(Problem(shown, field, reason) for field, reason in found)
        if spec is None:
            continue
        first = seen.setdefault(spec.name.casefold(), file)
        if first != file:
            problems.append(
                Problem(shown, "name", duplicate_reason(COMPUTE.noun, spec.name, first, root))
            )
        specs.append(spec)
    if problems:
        raise ConfigError(problems)
    return tuple(specs)


def _load_one(file: Path) -> tuple[ComputeSpec | None, list[tuple[str, str]]]:
    compute, found = load_entity("load_compute", file, COMPUTE)
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
