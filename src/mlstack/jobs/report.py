"""Pictures and tables of jobs: a sweep's results table and its metric-vs-trial PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from mlstack.jobs.record import JobRecord

__all__ = ["PLOT_FILE", "jobs_table", "plot_sweep", "trials_table"]

PLOT_FILE = "sweep.png"
_COLOURS = {"Completed": "tab:green", "Canceled": "tab:orange", "Failed": "tab:red"}


def _num(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def jobs_table(jobs: Sequence[JobRecord]) -> Table:
    table = Table(title="jobs")
    for column in ("id", "kind", "status", "inputs", "metrics", "duration", "created"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        inputs = ", ".join(f"{v['name']}:{v['version']}" for v in job.inputs.values()
                           if isinstance(v, dict) and "version" in v)  # fmt: skip
        metrics = ", ".join(f"{k} {_num(v)}" for k, v in job.metrics.items())
        duration = f"{job.duration:.1f} s" if job.duration is not None else "-"
        table.add_row(job.id, job.kind, job.status, inputs or "-", metrics or "-", duration,
                      job.created_at[:19])  # fmt: skip
    return table


def trials_table(sweep: JobRecord, trials: Sequence[JobRecord]) -> Table:
    """One row per trial: parameters, objective, intervals reported, status and why."""
    metric = sweep.extra.get("primary_metric", "objective")
    best = (sweep.extra.get("best_trial") or {}).get("id")
    names = sorted({k for t in trials for k in t.parameters})
    table = Table(title=f"sweep {sweep.id}: {sweep.extra.get('goal')} {metric}")
    for column in ("trial", *names, metric, "intervals", "status", "reason"):
        table.add_column(column, overflow="fold")
    for t in trials:
        mark = " ★" if t.id == best else ""
        table.add_row(
            f"{t.extra.get('number')}{mark}", *(_num(t.parameters.get(n, "")) for n in names),
            _num(t.extra.get("objective", "-")), str(len(t.extra.get("values", []))), t.status,
            t.reason,
        )  # fmt: skip
    return table


def plot_sweep(sweep: JobRecord, trials: Sequence[JobRecord], path: Path) -> Path:
    """Left: each trial's objective by trial number (best starred); right: the primary
    metric per interval of every trial, stopped trials dashed."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - Agg canvas, no pyplot state

    metric = str(sweep.extra.get("primary_metric", "objective"))
    best = (sweep.extra.get("best_trial") or {}).get("id")
    figure = Figure(figsize=(10, 4), layout="constrained")
    left, right = figure.subplots(1, 2)
    for status, colour in _COLOURS.items():
        chosen = [t for t in trials if t.status == status and t.extra.get("objective") is not None]
        left.scatter([t.extra["number"] for t in chosen], [t.extra["objective"] for t in chosen],
                     color=colour, label=status.lower(), zorder=3)  # fmt: skip
    for t in trials:
        values = t.extra.get("values") or []
        style = "-" if t.status == "Completed" else "--"
        right.plot(range(1, len(values) + 1), values, style, marker="o",
                   color=_COLOURS.get(t.status, "tab:gray"), alpha=0.8)  # fmt: skip
        if t.id == best and t.extra.get("objective") is not None:
            left.scatter([t.extra["number"]], [t.extra["objective"]], marker="*", s=260,
                         color="gold", edgecolors="black", zorder=4, label="best")  # fmt: skip
    left.set(title=f"{metric} by trial", xlabel="trial", ylabel=metric)
    right.set(title=f"{metric} per interval", xlabel="interval (report)", ylabel=metric)
    left.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, metadata={"Software": None})
    return path
