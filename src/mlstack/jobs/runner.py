"""Run a command job on the local target: resolve, substitute, run, stream, record.

The job's data inputs (``azureml:NAME:VERSION`` or ``@latest``) are resolved through the
stack's workspace and downloaded into the verified cache (:func:`materialise`), so the
command sees local folders, as an Azure ML job sees mounted ones. ``${{inputs.x}}`` and
``${{outputs.y}}`` become those paths; the command runs in the job's ``code`` folder with
the project's Python first on ``PATH`` (the local stand-in for the job's environment).

Two variables tell the script which job it is part of:

- ``MLSTACK_JOB``: JSON ``{"id", "inputs": {input: {name, version, digest}},
  "environment": {name, version, digest, image}}`` — the exact versions behind each
  mounted folder, for the lineage a model records. A submission to Azure ML sets the
  same variable, so one script reads its lineage the same way in both places.
- ``MLSTACK_METRICS_FILE``: where :func:`mlstack.jobs.metrics.log_metric` appends.

The working folder ``<home>/stacks/<stack>/jobs/<id>/`` keeps ``job.log`` (stdout and
stderr, also streamed to the terminal), ``metrics.jsonl`` and, unless an output is
placed elsewhere, ``outputs/<name>/``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from mlstack.config.locator import LocalLocator
from mlstack.errors import ConfigError, NotFoundError, Problem
from mlstack.jobs.metrics import METRICS_ENV, read_metrics, summary
from mlstack.jobs.record import JobRecord, JobStore, jobs_folder
from mlstack.jobs.spec import AssetInput, JobSpec, Scalar, substitute
from mlstack.workspace.asset import AssetRef
from mlstack.workspace.inputs import ResolvedInput, materialise

__all__ = [
    "JOB_ENV",
    "Prepared",
    "Process",
    "copy_into_place",
    "literal_text",
    "now",
    "prepare",
    "process_environment",
    "run_command_job",
]

JOB_ENV = "MLSTACK_JOB"
LOG_FILE, METRICS_FILE = "job.log", "metrics.jsonl"
Resolver = Callable[[str], ResolvedInput]
Echo = Callable[[str], None]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_job_id(spec: JobSpec) -> str:
    """``<name or file stem>_<10 hex>``: unique per run, as Azure ML job names must be."""
    base = spec.name or spec.source.stem
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in base)
    return f"{stem}_{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Prepared:
    """A job's inputs made concrete: data as verified folders, literals as given."""

    data: Mapping[str, ResolvedInput] = field(default_factory=dict)
    folders: Mapping[str, Path] = field(default_factory=dict)
    """Inputs given as plain local paths (not registered assets): no version, no digest."""
    literals: Mapping[str, Scalar] = field(default_factory=dict)
    environment: Mapping[str, Any] | None = None

    def inputs_record(self) -> dict[str, Any]:
        """Exact versions and digests for the job record; literals as they are."""
        out: dict[str, Any] = {k: v.to_dict() for k, v in self.data.items()}
        out.update({k: {"path": str(v)} for k, v in self.folders.items()})
        out.update({k: {"value": v} for k, v in self.literals.items()})
        return dict(sorted(out.items()))

    def identity(self, job_id: str) -> dict[str, Any]:
        """The ``MLSTACK_JOB`` document."""
        data = {k: {"digest": v.digest, "name": v.name, "version": v.version}
                for k, v in self.data.items()}  # fmt: skip
        return {"environment": dict(self.environment) if self.environment else None,
                "id": job_id, "inputs": data}  # fmt: skip

    def placeholders(self) -> dict[tuple[str, str], str]:
        values = {("inputs", k): str(v.path) for k, v in self.data.items()}
        values.update({("inputs", k): str(v) for k, v in self.folders.items()})
        values.update({("inputs", k): literal_text(v) for k, v in self.literals.items()})
        return values


def literal_text(value: Scalar) -> str:
    """A literal as a command line spells it (booleans as ``true``/``false``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def resolve_environment(home: Path, stack: str, ref: str | None) -> dict[str, Any] | None:
    """The exact registered environment version ``azureml:NAME@latest`` stands for."""
    if not ref:
        return None
    from mlstack.workspace import open_workspace  # noqa: PLC0415 - Azurite client chain

    asset = AssetRef.parse(ref.removeprefix("azureml:"))
    try:
        ws = open_workspace(LocalLocator(stack=stack), home=home)
        env = ws.environments.get(asset.name, asset.version)
    except NotFoundError as error:
        raise NotFoundError(
            f"the job's environment {ref}: {error}; declare it under assets/environments "
            f"and run `pulumi up -s {stack}`"
        ) from None
    return {"digest": env.digest, "image": env.properties.get("image"), "name": env.name,
            "version": env.version}  # fmt: skip


def prepare(
    home: Path, stack: str, spec: JobSpec, resolver: Resolver | None = None,
) -> Prepared:  # fmt: skip
    """Resolve and fetch every data input (digest-checked) and the environment."""
    resolve = resolver or (lambda ref: materialise(home, stack, ref, progress=False))
    data, folders, literals = {}, {}, {}
    problems = []
    for name, value in spec.inputs.items():
        if not isinstance(value, AssetInput):
            literals[name] = value
        elif (ref := value.asset_ref) is not None:
            data[name] = resolve(ref)
        else:
            path = value.local_path(spec.source.parent)
            if path is None:
                problems.append(Problem(str(spec.source), f"inputs.{name}.path", f"{value.path}: "
                                        "a datastore URI cannot be read on the local target; "
                                        "register the folder as a data asset and name it "
                                        "azureml:NAME:VERSION (or @latest)"))  # fmt: skip
                continue
            if not path.exists():
                problems.append(Problem(str(spec.source), f"inputs.{name}.path",
                                        f"{path} does not exist"))  # fmt: skip
            folders[name] = path
    if problems:
        raise ConfigError(problems)
    environment = resolve_environment(home, stack, spec.environment)
    return Prepared(data, folders, literals, environment)


def output_paths(
    spec: JobSpec, workdir: Path, overrides: Mapping[str, Path] | None = None
) -> dict[str, Path]:
    """Each declared output's folder: ``overrides`` (``--output NAME=PATH``) or the job's."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(spec.outputs))
    if unknown:
        raise ConfigError([Problem(str(spec.source), f"outputs.{n}",
                                   "is not declared by the job") for n in unknown])  # fmt: skip
    return {n: Path(overrides.get(n, workdir / "outputs" / n)).resolve() for n in spec.outputs}


def command_line(
    spec: JobSpec, prepared: Prepared, outputs: Mapping[str, Path],
    params: Mapping[str, Scalar] | None = None,
) -> str:  # fmt: skip
    """The command with every placeholder replaced by a shell-quoted value."""
    values = {k: shlex.quote(v) for k, v in prepared.placeholders().items()}
    values.update({("outputs", k): shlex.quote(str(v)) for k, v in outputs.items()})
    values.update({("search_space", k): shlex.quote(literal_text(v))
                   for k, v in (params or {}).items()})  # fmt: skip
    return substitute(spec.command, values)


class Process:
    """One job process: its own process group (so a stop reaches its children), output
    copied line by line to a log file and, if given, to ``echo``."""

    def __init__(self, command: str, cwd: Path, env: Mapping[str, str], log: Path,
                 echo: Echo | None = None) -> None:  # fmt: skip
        self.started = time.monotonic()
        self._log = log.open("a", encoding="utf-8")
        self.popen = subprocess.Popen(
            ["/bin/sh", "-c", command], cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            text=True, errors="replace",
        )  # fmt: skip
        assert self.popen.stdout is not None
        self._copier = threading.Thread(target=self._copy, args=(self.popen.stdout, echo),
                                        daemon=True)  # fmt: skip
        self._copier.start()

    def _copy(self, stream: IO[str], echo: Echo | None) -> None:
        for line in stream:
            self._log.write(line)
            self._log.flush()
            if echo is not None:
                echo(line.rstrip("\n"))

    def poll(self) -> int | None:
        return self.popen.poll()

    def stop(self, grace: float = 10.0) -> int:
        """SIGTERM the group, SIGKILL after ``grace`` seconds; the exit code."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                return self.wait(grace)
            except subprocess.TimeoutExpired:
                continue
        return self.wait()

    def wait(self, timeout: float | None = None) -> int:
        code = self.popen.wait(timeout)
        self._copier.join(timeout=5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._log.close()
        return code


def copy_into_place(source: Path, target: Path) -> None:
    """Copy a folder into a hidden sibling ``.NAME.tmp-<pid>`` and rename it into place,
    so ``target`` is never seen half-written (an old folder there is replaced)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    shutil.copytree(source, temp, symlinks=True)
    if target.exists():
        target.rename(old)
    temp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def process_environment(
    identity: Mapping[str, Any], metrics: Path, variables: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A job process's environment: ours plus ``variables``, ``MLSTACK_JOB``, the metrics
    file, unbuffered output, and the project's Python first on ``PATH``."""
    env = {**os.environ, **(variables or {})}
    env[JOB_ENV] = json.dumps(identity, sort_keys=True)
    env[METRICS_ENV] = str(metrics)
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def job_environment(
    spec: JobSpec, prepared: Prepared, job_id: str, metrics: Path
) -> dict[str, str]:
    return process_environment(prepared.identity(job_id), metrics, spec.environment_variables)


def start(
    spec: JobSpec, prepared: Prepared, job_id: str, workdir: Path, outputs: Mapping[str, Path],
    *, params: Mapping[str, Scalar] | None = None, echo: Echo | None = None,
) -> tuple[Process, str]:  # fmt: skip
    """Start the job's process in ``spec.code`` (or the YAML's folder); the command run."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = command_line(spec, prepared, outputs, params)
    env = job_environment(spec, prepared, job_id, workdir / METRICS_FILE)
    cwd = spec.code or spec.source.parent
    return Process(command, cwd, env, workdir / LOG_FILE, echo), command


def finish(record: JobRecord, code: int, workdir: Path, started: float, *,
           canceled: str = "") -> JobRecord:  # fmt: skip
    """The final record: status from the exit code (or the reason it was stopped)."""
    status = "Canceled" if canceled else ("Completed" if code == 0 else "Failed")
    reason = canceled or ("" if code == 0 else f"exited with code {code}; see job.log")
    return record.evolve(
        status=status, exit_code=code, reason=reason, ended_at=now(),
        duration=round(time.monotonic() - started, 3),
        metrics=summary(read_metrics(workdir / METRICS_FILE)),
    )  # fmt: skip


def run_command_job(
    home: Path, stack: str, spec: JobSpec, *, outputs: Mapping[str, Path] | None = None,
    echo: Echo | None = None, resolver: Resolver | None = None,
) -> JobRecord:  # fmt: skip
    """Run a command job to its end and return its final record (also stored)."""
    store = JobStore.at(home, stack)
    job_id = new_job_id(spec)
    workdir = jobs_folder(home, stack) / job_id
    prepared = prepare(home, stack, spec, resolver)
    paths = output_paths(spec, workdir, outputs)
    record = JobRecord(
        id=job_id, kind="command", status="Running", stack=stack, source=str(spec.source),
        workdir=str(workdir), inputs=prepared.inputs_record(),
        outputs={k: str(v) for k, v in paths.items()}, environment=prepared.environment,
        created_at=now(), started_at=now(),
    )  # fmt: skip
    started = time.monotonic()
    process, command = start(spec, prepared, job_id, workdir, paths, echo=echo)
    store.put(record := record.evolve(command=command))
    try:
        code = process.wait()
    except KeyboardInterrupt:
        process.stop()
        store.put(finish(record, -int(signal.SIGINT), workdir, started,
                         canceled="interrupted by the user"))  # fmt: skip
        raise
    return store.put(finish(record, code, workdir, started))
