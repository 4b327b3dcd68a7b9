"""Run a sweep job on the local target: trials as parallel processes, stopped early by policy.

The sweeper asks the sampler for parameters, starts up to ``max_concurrent_trials``
trial processes (each a command job with ``${{search_space.x}}`` filled in), tails each
trial's metrics file, and applies the early-termination policy to every running trial
whenever it polls: a trial the policy condemns gets SIGTERM (its process group), is
recorded ``Canceled`` with the decision, and frees its slot. ``trial_timeout`` and the
sweep's ``timeout`` stop trials the same way. The best trial is the ``Completed`` one
whose best reported primary metric is best for the goal (a stopped trial has no
complete outputs to promote); it is written to ``best_trial.json``, linked as ``best``
and, with ``--output NAME=PATH``, its outputs are copied there for a model YAML to use.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstack.jobs.metrics import Metric, MetricsTail, series
from mlstack.jobs.policy import Decision, Peer, decide
from mlstack.jobs.record import JobRecord, JobStore, jobs_folder
from mlstack.jobs.runner import (
    METRICS_FILE,
    Echo,
    Prepared,
    Process,
    Resolver,
    copy_into_place,
    finish,
    new_job_id,
    now,
    output_paths,
    prepare,
    start,
)
from mlstack.jobs.sampling import make_sampler
from mlstack.jobs.spec import JobSpec, Scalar, SweepSpec

__all__ = ["BEST_FILE", "best_trial", "objective", "run_sweep_job"]

BEST_FILE = "best_trial.json"
POLL_SECONDS = 0.5


@dataclass
class _Trial:
    number: int
    record: JobRecord
    process: Process
    workdir: Path
    tail: MetricsTail
    started: float
    rows: list[Metric] = field(default_factory=list)


def objective(values: list[float], goal: str) -> float | None:
    """A trial's result: its best reported primary metric."""
    if not values:
        return None
    return max(values) if goal == "maximize" else min(values)


def best_trial(trials: list[JobRecord], sweep: SweepSpec) -> JobRecord | None:
    """The Completed trial with the best objective (ties: the earlier trial)."""
    sign = -1.0 if sweep.goal == "maximize" else 1.0
    scored: list[tuple[float, int, JobRecord]] = [
        (sign * float(t.extra["objective"]), int(t.extra.get("number", 0)), t)
        for t in trials
        if t.status == "Completed" and isinstance(t.extra.get("objective"), int | float)
    ]
    return min(scored, key=lambda item: item[:2])[2] if scored else None


class _Sweep:
    def __init__(
        self, home: Path, stack: str, spec: JobSpec, prepared: Prepared, record: JobRecord,
        *, seed: int, echo: Echo | None,
    ) -> None:  # fmt: skip
        assert spec.sweep is not None
        self.spec, self.sweep, self.prepared, self.record = spec, spec.sweep, prepared, record
        self.store = JobStore.at(home, stack)
        self.workdir = Path(record.workdir)
        self.echo = echo or (lambda line: None)
        self.sampler = make_sampler(
            self.sweep.sampling_algorithm, self.sweep.search_space,
            self.sweep.limits.max_total_trials, seed=seed, goal=self.sweep.goal,
            source=str(spec.source),
        )  # fmt: skip
        self.running: dict[str, _Trial] = {}
        self.done: dict[str, tuple[JobRecord, list[float]]] = {}

    def values(self, trial: _Trial) -> list[float]:
        return series(trial.rows, self.sweep.primary_metric)

    def launch(self, number: int, params: Mapping[str, Scalar]) -> None:
        trial_id = f"{self.record.id}_{number}"
        workdir = self.workdir / "trials" / str(number)
        paths = output_paths(self.spec, workdir)
        record = JobRecord(
            id=trial_id, kind="trial", status="Running", stack=self.record.stack,
            source=self.record.source, parent=self.record.id, workdir=str(workdir),
            inputs=self.prepared.inputs_record(), outputs={k: str(v) for k, v in paths.items()},
            environment=self.prepared.environment, parameters=dict(params),
            created_at=now(), started_at=now(), extra={"number": number},
        )  # fmt: skip
        process, command = start(self.spec, self.prepared, trial_id, workdir, paths, params=params)
        record = self.store.put(record.evolve(command=command))
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in params.items())  # fmt: skip
        self.echo(f"trial {number} started: {shown}")
        tail = MetricsTail(workdir / METRICS_FILE)
        self.running[trial_id] = _Trial(number, record, process, workdir, tail, time.monotonic())

    def peers(self, exclude: str) -> dict[str, Peer]:
        out = {k: Peer(v, finished=r.status == "Completed") for k, (r, v) in self.done.items()}
        out.update({k: Peer(self.values(t)) for k, t in self.running.items() if k != exclude})
        out.pop(exclude, None)
        return out

    def close(self, trial_id: str, code: int, stopped: str = "",
              decision: Decision | None = None) -> None:  # fmt: skip
        trial = self.running.pop(trial_id)
        trial.rows += trial.tail.poll()
        values = self.values(trial)
        result = objective(values, self.sweep.goal)
        final = finish(trial.record, code, trial.workdir, trial.started, canceled=stopped)
        extra = {**final.extra, "objective": result, "values": values}
        if decision is not None:
            extra["decision"] = decision.to_dict()
        final = self.store.put(final.evolve(extra=extra))
        self.done[trial_id] = (final, values)
        self.sampler.tell(trial.number, result if final.status == "Completed" else None)
        score = "-" if result is None else f"{result:.4f}"
        self.echo(f"trial {trial.number} {final.status.lower()}: {self.sweep.primary_metric} "
                  f"{score}{f' ({stopped})' if stopped else ''}")  # fmt: skip

    def step(self, deadline: float | None) -> None:
        limit = self.sweep.limits.trial_timeout
        policy = self.sweep.early_termination
        for trial_id, trial in list(self.running.items()):
            trial.rows += trial.tail.poll()
            code = trial.process.poll()
            if code is not None:
                self.close(trial_id, trial.process.wait())
                continue
            if deadline is not None and time.monotonic() > deadline:
                self.close(trial_id, trial.process.stop(), "the sweep's timeout was reached")
            elif limit is not None and time.monotonic() - trial.started > limit:
                self.close(trial_id, trial.process.stop(), f"trial_timeout of {limit} s")
            elif policy is not None and (values := self.values(trial)):
                decision = decide(policy, self.sweep.goal, values, self.peers(trial_id))
                if decision.stop:
                    self.close(trial_id, trial.process.stop(), decision.reason, decision)

    def run(self) -> None:
        limits = self.sweep.limits
        clock = time.monotonic()
        deadline = clock + limits.timeout if limits.timeout else None
        exhausted = False
        try:
            while True:
                out_of_time = deadline is not None and time.monotonic() > deadline
                while (
                    not exhausted
                    and not out_of_time
                    and (len(self.running) < limits.max_concurrent_trials)
                ):
                    asked = self.sampler.ask()
                    if asked is None:
                        exhausted = True
                    else:
                        self.launch(*asked)
                if not self.running:
                    break
                time.sleep(POLL_SECONDS)
                self.step(deadline)
        except BaseException:
            for trial_id, trial in list(self.running.items()):
                self.close(trial_id, trial.process.stop(), "the sweep was interrupted")
            raise


def _mark_best(
    sweep: _Sweep, best: JobRecord | None, outputs: Mapping[str, Path]
) -> dict[str, Any]:
    if best is None:
        return {}
    body = {"id": best.id, "number": best.extra.get("number"), "objective": best.extra.get(
        "objective"), "outputs": dict(best.outputs), "parameters": dict(best.parameters),
        "primary_metric": sweep.sweep.primary_metric, "goal": sweep.sweep.goal}  # fmt: skip
    (sweep.workdir / BEST_FILE).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    link = sweep.workdir / "best"
    link.unlink(missing_ok=True)
    link.symlink_to(Path(best.workdir).relative_to(sweep.workdir))
    for name, target in outputs.items():
        copy_into_place(Path(best.outputs[name]), target)
    return body


def run_sweep_job(
    home: Path, stack: str, spec: JobSpec, *, outputs: Mapping[str, Path] | None = None,
    echo: Echo | None = None, resolver: Resolver | None = None, seed: int | None = None,
) -> JobRecord:  # fmt: skip
    """Run every trial of a sweep job and return the sweep's final record (also stored)."""
    assert spec.sweep is not None, "run_sweep_job takes a sweep job"
    store = JobStore.at(home, stack)
    job_id = new_job_id(spec)
    workdir = jobs_folder(home, stack) / job_id
    targets = output_paths(spec, workdir, outputs) if outputs else {}
    targets = {k: v for k, v in targets.items() if k in (outputs or {})}
    prepared = prepare(home, stack, spec, resolver)
    used_seed = seed if seed is not None else spec.sweep.seed
    used_seed = used_seed if used_seed is not None else random.SystemRandom().randrange(2**31)
    record = JobRecord(
        id=job_id, kind="sweep", status="Running", stack=stack, source=str(spec.source),
        command=spec.command, workdir=str(workdir), inputs=prepared.inputs_record(),
        outputs={k: str(v) for k, v in targets.items()}, environment=prepared.environment,
        created_at=now(), started_at=now(),
        extra={"goal": spec.sweep.goal, "primary_metric": spec.sweep.primary_metric,
               "sampling_algorithm": spec.sweep.sampling_algorithm, "seed": used_seed,
               "early_termination": spec.sweep.early_termination.__dict__
               if spec.sweep.early_termination else None,
               "limits": spec.sweep.limits.__dict__},
    )  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    store.put(record)
    sweep = _Sweep(home, stack, spec, prepared, record, seed=used_seed, echo=echo)
    clock = time.monotonic()
    status, reason = "Completed", ""
    try:
        sweep.run()
    except KeyboardInterrupt:
        status, reason = "Canceled", "interrupted by the user"
        raise
    finally:
        trials = store.list(parent=job_id)
        best = best_trial(trials, spec.sweep)
        if best is None and status == "Completed":
            status, reason = "Failed", "no trial completed; see the trials' job.log"
        marked = _mark_best(sweep, best, targets)
        counts = {
            s: sum(t.status == s for t in trials) for s in ("Completed", "Canceled", "Failed")
        }
        record = store.put(record.evolve(
            status=status, reason=reason, ended_at=now(),
            duration=round(time.monotonic() - clock, 3),
            metrics={spec.sweep.primary_metric: marked["objective"]} if marked else {},
            extra={**record.extra, "best_trial": marked or None, "trials": counts},
        ))  # fmt: skip
    return record
