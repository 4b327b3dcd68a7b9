"""Run a pipeline job on the local target: each step a command job, wired by its bindings.

Everything that can be wrong with the file is found first (:class:`Plan`: components,
data, environments, code, placeholders). Only then are records written and steps
started, each as soon as the steps it reads from have finished (not level by level), at
most ``max_parallel`` at a time.

A step runs as a command job would (:mod:`mlstack.jobs.runner`): its own process group,
``job.log`` and ``metrics.jsonl`` in ``<jobs>/<pipeline id>/<step>/``, outputs in
``outputs/<name>/`` there, created before the command starts as Azure ML mounts them.
A step whose reuse key matches an intact earlier run (:mod:`mlstack.jobs.pipeline.reuse`)
takes over that run's outputs instead. ``MLSTACK_JOB`` adds ``pipeline`` (id, display
name, registered inputs, the steps done so far) to a command job's document, so a
script records the same lineage here and on Azure ML.
"""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstack.content.hashcache import HashCache, SqliteHashCache
from mlstack.content.scan import scan
from mlstack.errors import ConfigError, MlstackError
from mlstack.jobs.pipeline.component import StepComponent
from mlstack.jobs.pipeline.plan import Plan, Resolver, command_line
from mlstack.jobs.pipeline.reuse import KeyInput, folder_digest, remember, reusable, reuse_key
from mlstack.jobs.pipeline.spec import PipelineSpec, StepSpec
from mlstack.jobs.record import JobRecord, JobStore, StoredOutput, jobs_folder
from mlstack.jobs.runner import (
    LOG_FILE,
    METRICS_FILE,
    Process,
    copy_into_place,
    finish,
    literal_text,
    now,
    process_environment,
)
from mlstack.jobs.spec import AssetInput, Scalar
from mlstack.project import Project
from mlstack.workspace import register_folder

__all__ = ["run_pipeline"]

Echo = Callable[[str], None]
_POLL = 0.05


@dataclass
class _Step:
    """One step's state while the pipeline runs."""

    spec: StepSpec
    component: StepComponent
    code: Path
    environment: Mapping[str, Any] | None
    record: JobRecord
    outputs: dict[str, Path] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    process: Process | None = None
    started: float = 0.0
    key: str = ""

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def label(self) -> str:
        c = self.component
        return f"{c.name}:{c.version}" if c.version else f"{c.name} (file)"


def _new_id(spec: PipelineSpec) -> str:
    base = spec.name or spec.source.stem
    return (
        "".join(c if c.isalnum() or c in "-_" else "-" for c in base) + f"_{uuid.uuid4().hex[:10]}"
    )


class _Run:
    """One run of a pipeline: its records, its steps, the loop that drives them."""

    def __init__(
        self, home: Path, stack: str, plan: Plan, *, cache: HashCache, echo: Echo | None,
        max_parallel: int,
    ) -> None:  # fmt: skip
        spec = plan.spec
        self.home, self.spec, self.plan, self.cache = home, spec, plan, cache
        self.echo = echo or (lambda _line: None)
        self.max_parallel = max(1, max_parallel)
        self.store = JobStore.at(home, stack)
        self.id = _new_id(spec)
        self.workdir = jobs_folder(home, stack) / self.id
        self.order = [n for level in spec.levels() for n in level]
        self.steps: dict[str, _Step] = {}
        self.blocked: dict[str, str] = {}
        """Steps not started → the failed step that kept them from starting."""
        self.pending = list(self.order)
        self.running: list[_Step] = []
        self.stopping = ""
        """Why no further step starts: a step failed (without continue_on_step_failure)."""
        for name in self.order:
            component = plan.components[name]
            record = JobRecord(
                id=f"{self.id}_{name}", kind="command", status="NotStarted", stack=stack,
                source=str(component.file or spec.source), parent=self.id,
                workdir=str(self.workdir / name), environment=plan.environments[name],
                created_at=now(),
                extra={"step": name, "component": "", "component_digest": component.digest,
                       "reuse_key": "", "reused_from": None},
            )  # fmt: skip
            step = _Step(spec.steps[name], component, plan.code[name], plan.environments[name],
                         record)  # fmt: skip
            step.record = record.evolve(extra={**record.extra, "component": step.label})
            self.steps[name] = step
        self.record = JobRecord(
            id=self.id, kind="pipeline", status="Running", stack=stack, source=str(spec.source),
            workdir=str(self.workdir), inputs=self._pipeline_inputs(), created_at=now(),
            started_at=now(), extra={"target": "local", "display_name": spec.display_name},
        )  # fmt: skip
        self.started = time.monotonic()

    # -- records ---------------------------------------------------------------------------

    def _pipeline_inputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.spec.inputs.items():
            if isinstance(value, AssetInput):
                data = self.plan.data[value.path]
                out[name] = data.identity() or data.record()
            else:
                out[name] = {"value": value}
        return out

    def _put_step(self, step: _Step, record: JobRecord) -> None:
        step.record = self.store.put(record)
        self._publish()

    def _publish(self, **changes: Any) -> None:
        steps = {name: {"job": s.record.id, "component": s.label, "status": s.status,
                        "reused_from": s.record.extra.get("reused_from"),
                        "upstream": sorted(s.spec.upstream())}
                 for name, s in self.steps.items()}  # fmt: skip
        extra = {**self.record.extra, "steps": steps}
        self.record = self.store.put(self.record.evolve(extra=extra, **changes))

    # -- one step --------------------------------------------------------------------------

    def _values(self, step: _Step) -> tuple[dict[tuple[str, str], str], dict[str, KeyInput],
                                           dict[str, Any], dict[str, Any]]:  # fmt: skip
        """Placeholder values, key inputs, the record's inputs, the registered ones."""
        values: dict[tuple[str, str], str] = {}
        keys: dict[str, KeyInput] = {}
        record: dict[str, Any] = {}
        registered: dict[str, Any] = {}
        for name, port in sorted(step.component.inputs.items()):
            binding = step.spec.inputs.get(name)
            literal: Scalar | None = port.default
            if binding is not None and binding.kind == "step":
                upstream = self.steps[binding.source]
                path, digest = upstream.outputs[binding.port], upstream.digests[binding.port]
                values["inputs", name] = str(path)
                keys[name] = KeyInput(digest=digest)
                record[name] = {"digest": digest, "job": upstream.record.id, "output": binding.port,
                                "path": str(path), "step": binding.source}  # fmt: skip
                continue
            data = binding.data if binding is not None else None
            if binding is not None and binding.kind == "parent":
                value = self.spec.inputs[binding.source]
                data = value if isinstance(value, AssetInput) else None
                literal = None if isinstance(value, AssetInput) else value
            elif binding is not None and binding.kind == "literal" and binding.value is not None:
                literal = binding.value
            if data is not None:
                resolved = self.plan.data[data.path]
                values["inputs", name] = str(resolved.path)
                keys[name] = KeyInput(digest=resolved.digest)
                record[name] = resolved.record()
                if (identity := resolved.identity()) is not None:
                    registered[name] = identity
            elif literal is not None:
                values["inputs", name] = literal_text(literal)
                keys[name] = KeyInput(literal=literal_text(literal))
                record[name] = {"value": literal}
        return {k: shlex.quote(v) for k, v in values.items()}, keys, record, registered

    def _identity(self, step: _Step, registered: Mapping[str, Any]) -> dict[str, Any]:
        done = {n: s.record.id for n, s in self.steps.items() if s.status == "Completed"}
        pipeline_inputs = {k: v for k, v in self.record.inputs.items() if "version" in v}
        return {"environment": dict(step.environment) if step.environment else None,
                "id": step.record.id, "inputs": dict(registered),
                "pipeline": {"display_name": self.spec.display_name, "id": self.id,
                             "inputs": pipeline_inputs,
                             "steps": {**done, step.spec.name: step.record.id}}}  # fmt: skip

    def _begin(self, step: _Step) -> None:
        """Reuse an intact earlier run, or start the step's process."""
        values, keys, inputs, registered = self._values(step)
        env_digest = step.environment.get("digest") if step.environment else None
        step.key = reuse_key(step.component.digest, env_digest, keys, step.component.outputs)
        extra = {**step.record.extra, "reuse_key": step.key}
        record = step.record.evolve(inputs=inputs, extra=extra)
        allowed = step.component.is_deterministic and not self.spec.force_rerun
        earlier = (
            reusable(self.store, step.key, step.component.outputs, self.cache) if allowed else None
        )
        if earlier is not None:
            step.outputs = {k: Path(v.path) for k, v in earlier.outputs.items()}
            step.digests = {k: v.digest for k, v in earlier.outputs.items()}
            before = self.store.get(earlier.job_id)
            self._put_step(step, record.evolve(
                status="Completed", reason=f"reused from {earlier.job_id}: component and inputs "
                "unchanged", outputs={k: str(v) for k, v in step.outputs.items()},
                workdir=before.workdir, command=before.command, metrics=before.metrics,
                started_at=now(), ended_at=now(), duration=0.0, exit_code=0,
                extra={**extra, "reused_from": earlier.job_id},
            ))  # fmt: skip
            self.echo(f"step {step.spec.name}: reused from {earlier.job_id} ({step.label}; "
                      "component and inputs unchanged)")  # fmt: skip
            return
        workdir = Path(record.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        step.outputs = {n: workdir / "outputs" / n for n in step.component.outputs}
        for folder in step.outputs.values():
            folder.mkdir(parents=True, exist_ok=True)
        values.update({("outputs", k): shlex.quote(str(v)) for k, v in step.outputs.items()})
        command = command_line(step.component.command, values)
        env = process_environment(self._identity(step, registered), workdir / METRICS_FILE)
        prefix = f"[{step.spec.name}] "
        step.started = time.monotonic()
        step.record = record.evolve(
            status="Running", command=command, started_at=now(),
            outputs={k: str(v) for k, v in step.outputs.items()},
        )  # fmt: skip
        step.process = Process(command, step.code, env, workdir / LOG_FILE,
                               lambda line: self.echo(prefix + line))  # fmt: skip
        self.running.append(step)  # first: from here on a Ctrl-C stops it
        self._put_step(step, step.record)
        self.echo(f"step {step.spec.name}: started ({step.label})")

    def _end(self, step: _Step, code: int, canceled: str = "") -> None:
        record = finish(step.record, code, Path(step.record.workdir), step.started,
                        canceled=canceled)  # fmt: skip
        step.process = None
        if record.status == "Completed":
            try:
                step.digests = {k: folder_digest(v, self.cache) for k, v in step.outputs.items()}
            except ConfigError as error:
                record = record.evolve(status="Failed", reason=f"an output is not data: {error}")
        if record.status == "Completed":
            stored = {k: StoredOutput(str(v), step.digests[k]) for k, v in step.outputs.items()}
            remember(self.store, step.key, record.id, stored, record.ended_at)
        self._put_step(step, record)
        why = f" ({record.reason})" if record.reason else ""
        self.echo(f"step {step.spec.name}: {record.status} in {record.duration:.1f} s{why}")

    def _skip(self, step: _Step, reason: str) -> None:
        self._put_step(step, step.record.evolve(reason=reason, ended_at=now()))
        self.echo(f"step {step.spec.name}: not started ({reason})")

    # -- the loop --------------------------------------------------------------------------

    def _blocked_by(self, name: str) -> str | None:
        """The failed step that keeps ``name`` from running, if any."""
        for up in sorted(self.steps[name].spec.upstream()):
            upstream = self.steps[up]
            if upstream.status in {"Failed", "Canceled"}:
                return up
            if up in self.blocked:
                return self.blocked[up]
        return None

    def drive(self) -> None:
        """Start steps as their upstream steps complete; stop on failure or Ctrl-C."""
        for step in self.steps.values():  # every step is listed from the start, NotStarted
            self.store.put(step.record)
        self._publish()
        try:
            while self.pending or self.running:
                if not (self._start_ready() | self._reap()):
                    time.sleep(_POLL)
        except KeyboardInterrupt:
            self._stop_running("interrupted by the user")
            for name in self.pending:
                self._skip(self.steps[name], "the pipeline was canceled")
            self._close("Canceled", "interrupted by the user")
            raise

    def _start_ready(self) -> bool:
        """Skip what a failure blocks, start (or reuse) what is ready; whether any moved."""
        moved = False
        for name in list(self.pending):
            step = self.steps[name]
            blocker = self._blocked_by(name)
            if self.stopping or blocker:
                self.pending.remove(name)
                self.blocked[name] = blocker or ""
                self._skip(step, self.stopping or f"upstream step {blocker} failed")
            elif len(self.running) < self.max_parallel and all(
                self.steps[u].status == "Completed" for u in step.spec.upstream()
            ):
                self.pending.remove(name)
                self._begin(step)
            else:
                continue
            moved = True
        return moved

    def _reap(self) -> bool:
        """Finish the steps whose process ended; whether any did."""
        ended = [s for s in self.running if s.process is not None and s.process.poll() is not None]
        for step in ended:
            assert step.process is not None
            self.running.remove(step)
            self._end(step, step.process.wait())
            if step.status != "Completed" and not self.spec.continue_on_step_failure:
                self.stopping = f"step {step.spec.name} failed"
                self._stop_running(f"stopped: {self.stopping}")
        return bool(ended)

    def _stop_running(self, reason: str) -> None:
        """Stop every running step's process group (SIGTERM, then SIGKILL) as Canceled."""
        for step in list(self.running):
            if step.process is not None:
                self._end(step, step.process.stop(), canceled=reason)
        self.running.clear()

    def _close(
        self, status: str, reason: str = "", outputs: Mapping[str, str] | None = None
    ) -> None:
        self._publish(status=status, reason=reason, ended_at=now(), outputs=dict(outputs or {}),
                      duration=round(time.monotonic() - self.started, 3))  # fmt: skip

    def bound_outputs(self) -> dict[str, tuple[_Step, Path]]:
        """Each pipeline output: the step that writes it and the folder it wrote."""
        found = {}
        for step in self.steps.values():
            for port, target in step.spec.outputs.items():
                if target is not None and port in step.outputs:
                    found[target] = (step, step.outputs[port])
        return found


def _deliver(run: _Run, outputs: Mapping[str, Path], cache: HashCache) -> dict[str, str]:
    """-o copies and ``name:`` registrations of a completed pipeline; what each became."""
    shown: dict[str, str] = {}
    for name, (step, folder) in sorted(run.bound_outputs().items()):
        declared = run.spec.outputs[name]
        shown[name] = str(folder)
        if name in outputs:
            copy_into_place(folder, outputs[name])
            shown[name] = str(outputs[name])
            run.echo(f"output {name}: copied to {outputs[name]}")
        if declared.name:
            assert run.plan.ws is not None
            c = step.component
            done = register_folder(
                run.plan.ws, "data", declared.name, folder, scan(folder, cache),
                type_="uri_folder", version=declared.version,
                properties={"mlstack.pipeline": run.id, "mlstack.step": step.spec.name,
                            "mlstack.job": step.record.id,
                            "mlstack.component": f"{c.name}:{c.version}" if c.version else c.name},
                description=f"Output {name} of pipeline {run.id} (step {step.spec.name}).",
            )  # fmt: skip
            v = done.version
            shown[name] = f"{v.name}:{v.version}"
            run.echo(f"output {name}: data {v.name}:{v.version}"
                     + ("" if done.new else " (same content: the existing version)"))  # fmt: skip
    return shown


def run_pipeline(
    home: Path, stack: str, spec: PipelineSpec, *, outputs: Mapping[str, Path] | None = None,
    echo: Echo | None = None, resolver: Resolver | None = None, max_parallel: int = 2,
    root: Path | None = None,
) -> JobRecord:  # fmt: skip
    """Run ``spec`` to its end on the local target and return the pipeline's final record.

    ``outputs`` copies pipeline outputs to local folders (``-o NAME=PATH``); ``root`` is
    the project root component files must live in (default: the pipeline file's project).
    A bad input raises ConfigError before anything is recorded; Ctrl-C stops the running
    steps, records the pipeline Canceled and re-raises.
    """
    outputs = {k: Path(v).resolve() for k, v in (outputs or {}).items()}
    root = root or Project.find(spec.source.parent).root
    with SqliteHashCache.in_home(home) as cache:
        plan = Plan(home, stack, spec, outputs=outputs, resolver=resolver, root=root, cache=cache)
        run = _Run(home, stack, plan, cache=cache, echo=echo, max_parallel=max_parallel)
        run.drive()
        failed = [n for n, s in run.steps.items() if s.status in {"Failed", "Canceled"}]
        if failed or any(s.status != "Completed" for s in run.steps.values()):
            shown = {n: str(p) for n, (_, p) in run.bound_outputs().items()}
            run._close("Failed", f"step {', '.join(failed)} did not complete", shown)
            return run.record
        try:
            shown = _deliver(run, outputs, cache)
        except (MlstackError, OSError) as error:
            run._close(
                "Failed", f"the steps completed but an output could not be delivered: {error}"
            )
            return run.record
        run._close("Completed", "", shown)
        return run.record
