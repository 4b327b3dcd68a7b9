"""A pipeline run drawn as its graph: steps coloured by state, reused steps marked.

Both pictures come from the pipeline's record alone (``extra["steps"]``: each step's
job, component, status, upstream steps and, when reused, the run it was reused from),
so ``mlstack job show`` draws a finished run, a running one and an Azure ML one alike.
The Mermaid block pastes into a pull request or a wiki; the PNG is for a terminal user.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.audit.graph import mermaid_text
from mlstack.jobs.record import JobRecord

__all__ = ["GRAPH_FILE", "StepState", "render_mermaid", "render_png", "step_states"]

GRAPH_FILE = "pipeline.png"
STATUS_COLOUR = {
    "Completed": ("#e6f4ea", "#188038"),
    "Failed": ("#fdecea", "#c5221f"),
    "Running": ("#e8f0fe", "#1a73e8"),
    "Canceled": ("#fef7e0", "#b06000"),
    "NotStarted": ("#f1f3f4", "#5f6368"),
}
"""Fill and stroke per Azure ML status; any other status (Queued, Preparing…) as NotStarted."""


@dataclass(frozen=True)
class StepState:
    """One step as the graph shows it."""

    name: str
    component: str
    status: str
    upstream: tuple[str, ...]
    reused_from: str | None = None
    duration: float | None = None

    @property
    def colour(self) -> tuple[str, str]:
        return STATUS_COLOUR.get(self.status, STATUS_COLOUR["NotStarted"])

    def lines(self) -> list[str]:
        """Title, component, then state (``reused`` or the status and its duration)."""
        if self.reused_from:
            state = f"reused from {self.reused_from}"
        else:
            took = f" in {self.duration:.1f} s" if self.duration is not None else ""
            state = f"{self.status}{took}"
        return [self.name, self.component, state]


def step_states(record: JobRecord, children: list[JobRecord] | None = None) -> list[StepState]:
    """The steps of ``record`` in dependency order; durations from the step records."""
    steps: Mapping[str, Mapping[str, Any]] = record.extra.get("steps") or {}
    took = {c.extra.get("step"): c.duration for c in children or []}
    order = graphlib.TopologicalSorter(
        {name: set(body.get("upstream") or ()) & steps.keys() for name, body in steps.items()}
    )
    return [
        StepState(
            name,
            str(steps[name].get("component", "")),
            str(steps[name].get("status", "")),
            tuple(sorted(steps[name].get("upstream") or ())),
            steps[name].get("reused_from"),
            took.get(name),
        )
        for name in order.static_order()
    ]


def _node_id(name: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in name)


def render_mermaid(record: JobRecord, children: list[JobRecord] | None = None) -> str:
    """A ``flowchart LR``: one node per step, filled by status, reused ones dashed."""
    states = step_states(record, children)
    lines = ["flowchart LR"]
    for step in states:
        label = "<br/>".join(mermaid_text(x) for x in step.lines())
        lines.append(f'    {_node_id(step.name)}["{label}"]')
    for step in states:
        lines += [f"    {_node_id(up)} --> {_node_id(step.name)}" for up in step.upstream]
    for status in sorted({s.status for s in states}):
        fill, stroke = STATUS_COLOUR.get(status, STATUS_COLOUR["NotStarted"])
        members = [_node_id(s.name) for s in states if s.status == status]
        lines += [f"    classDef {status} fill:{fill},stroke:{stroke}",
                  f"    class {','.join(members)} {status}"]  # fmt: skip
    reused = [_node_id(s.name) for s in states if s.reused_from]
    if reused:
        lines += [
            "    classDef reused stroke-dasharray: 5 5",
            f"    class {','.join(reused)} reused",
        ]
    return "\n".join(lines) + "\n"


def _levels(states: list[StepState]) -> dict[str, int]:
    """Each step's column: one more than its deepest upstream step."""
    level: dict[str, int] = {}
    for step in states:  # dependency order: upstream levels are known
        level[step.name] = 1 + max((level[u] for u in step.upstream if u in level), default=-1)
    return level


def render_png(
    record: JobRecord, path: Path, children: list[JobRecord] | None = None
) -> Path:  # fmt: skip
    """Draw the steps left to right by dependency depth and save the picture as a PNG."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - Agg canvas, no pyplot state

    states = step_states(record, children)
    level = _levels(states)
    columns: dict[int, list[StepState]] = {}
    for step in states:
        columns.setdefault(level[step.name], []).append(step)
    rows = max((len(c) for c in columns.values()), default=1)
    figure = Figure(figsize=(3.0 * max(len(columns), 1), 1.3 * rows + 0.8), layout="constrained")
    ax = figure.subplots()
    ax.set_axis_off()
    ax.set(xlim=(-0.5, len(columns) - 0.5), ylim=(-0.7, rows - 0.5))
    figure.suptitle(f"pipeline {record.id}: {record.status}")
    artists, centres = {}, {}
    for x, column in sorted(columns.items()):
        for i, step in enumerate(column):
            y = (rows - 1) / 2 + (len(column) - 1) / 2 - i
            fill, stroke = step.colour
            artists[step.name] = ax.text(
                x, y, "\n".join(step.lines()), ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round,pad=0.5", "facecolor": fill, "edgecolor": stroke,
                      "linestyle": "--" if step.reused_from else "-", "linewidth": 1.5},
            )  # fmt: skip
            centres[step.name] = (x, y)
    for step in states:
        for up in step.upstream:
            ax.annotate("", xy=centres[step.name], xytext=centres[up],
                        arrowprops={"arrowstyle": "-|>", "color": "#5f6368",
                                    "patchA": artists[up].get_bbox_patch(),
                                    "patchB": artists[step.name].get_bbox_patch()})  # fmt: skip
    ax.text(-0.45, -0.6, "dashed border: reused from an earlier run", fontsize=7, color="#5f6368")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, metadata={"Software": None})
    return path
