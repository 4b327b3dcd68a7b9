"""``mlstack job``: run CLI v2 command and sweep jobs on a stack's compute, and inspect them.

mlstack job run assets/jobs/train.yaml -s local --output model=outputs/digits-cnn
mlstack job run assets/jobs/train.yaml -s dev [--no-wait]     (azure target: Azure ML job)
mlstack job run assets/jobs/sweep.yaml -s local --output model=outputs/digits-cnn
mlstack job run assets/jobs/pipeline.yaml -s local [-o NAME=PATH]   (steps reused when unchanged)
mlstack job list -s local
mlstack job show JOB_ID -s local [--format json]
mlstack job logs JOB_ID -s local
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlstack.config.stack import StackConfig
from mlstack.errors import ConfigError, Problem
from mlstack.jobs.record import FINAL, JobRecord, JobStore
from mlstack.jobs.report import PLOT_FILE, jobs_table, plot_sweep, trials_table
from mlstack.jobs.runner import LOG_FILE, run_command_job
from mlstack.jobs.spec import JobSpec, load_entity, load_spec
from mlstack.jobs.sweep import run_sweep_job
from mlstack.project import Project
from mlstack.stack import Stack, open_stack

job_app = typer.Typer(help="Run command and sweep jobs (CLI v2 YAML) and inspect them.",
                      no_args_is_help=True)  # fmt: skip
console = Console(highlight=False, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    json = "json"


StackOption = Annotated[
    str | None, typer.Option("--stack", "-s", help="Stack; default: the selected one.")
]
FormatOption = Annotated[Format, typer.Option("--format", help="table or json")]


def _outputs(pairs: list[str], source: Path) -> dict[str, Path]:
    out, problems = {}, []
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            problems.append(Problem(str(source), f"--output {pair}", "use NAME=PATH"))
        out[name] = Path(path).resolve()
    if problems:
        raise ConfigError(problems)
    return out


def _store(stack: str | None) -> tuple[Stack, JobStore]:
    opened = open_stack(stack)
    return opened, JobStore.at(opened.project.home, opened.name)


@job_app.command("run")
def run_command(  # noqa: PLR0917 - typer passes each CLI option as a parameter
    file: Annotated[Path, typer.Argument(help="command, sweep or pipeline job YAML (CLI v2)")],
    stack: StackOption = None,
    output: Annotated[list[str] | None, typer.Option(
        "--output", "-o", help="put output NAME at PATH (e.g. model=outputs/digits-cnn); "
        "for a sweep, the best trial's output is copied there")] = None,
    seed: Annotated[int | None, typer.Option(help="sampler seed for a sweep")] = None,
    output_format: FormatOption = Format.table,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="azure target: watch the job to its end (default), or "
        "return once it is submitted")] = True,
) -> None:  # fmt: skip
    """Run a job on the stack's compute: locally (inputs resolved and verified, logs
    streamed), or on the azure target as an Azure ML job pinned to exact versions."""
    opened, store = _store(stack)
    project, name = opened.project, opened.name
    entity = load_entity(file.resolve())
    if getattr(entity, "type", None) == "pipeline":
        if seed is not None:
            raise ConfigError([Problem(str(file), "--seed", "applies to sweep jobs only: a "
                                       "pipeline has no sampler to seed")])  # fmt: skip
        record = _run_pipeline(opened, file, entity, output or [], output_format, wait=wait)
        _print(record, store, output_format)
        _exit(record, wait=wait)
        return
    spec = load_spec(file, entity)
    config = opened.config
    if config.target == "azure":
        _run_on_azure(
            project, config, spec, output=output, seed=seed, wait=wait, output_format=output_format
        )
        return
    outputs = _outputs(output or [], file)
    echo = console.print if output_format is Format.table else None
    if spec.sweep is None:
        record = run_command_job(project.home, name, spec, outputs=outputs,
                                 echo=lambda line: console.print(line, markup=False))  # fmt: skip
    else:
        record = run_sweep_job(project.home, name, spec, outputs=outputs, echo=echo, seed=seed)
        plot_sweep(record, store.list(parent=record.id), Path(record.workdir) / PLOT_FILE)
    _print(record, store, output_format)
    if record.status != "Completed":
        raise typer.Exit(1)


def _run_pipeline(
    opened: Stack, file: Path, entity: Any, output: list[str], output_format: Format, *,
    wait: bool,
) -> JobRecord:  # fmt: skip
    """Run a pipeline locally, or submit it to the stack's Azure ML workspace pinned to
    exact versions; the pipeline's record (final, unless not waited for)."""
    from mlstack.jobs.pipeline.spec import load_pipeline  # noqa: PLC0415

    spec = load_pipeline(file, entity)
    # with --format json, stdout is the record alone: progress goes to stderr
    echo = console if output_format is Format.table else Console(stderr=True, highlight=False)
    home, name, root = opened.project.home, opened.name, opened.project.root
    if opened.config.target == "azure":
        if output:
            local_only = "applies to the local target only: on azure, outputs land in the workspace"
            raise ConfigError([Problem(str(file), "--output", local_only)])
        # azure-ai-ml takes seconds to import: only a submission pays for it
        from mlstack.jobs.pipeline.submit import run_azure_pipeline  # noqa: PLC0415
        from mlstack.jobs.submit import connect_workspace  # noqa: PLC0415

        return run_azure_pipeline(home, name, spec, connect_workspace(opened.config),
                                  echo=lambda line: echo.print(line, markup=False), wait=wait,
                                  root=root)  # fmt: skip
    from mlstack.jobs.pipeline.runner import run_pipeline  # noqa: PLC0415

    return run_pipeline(home, name, spec, outputs=_outputs(output, file),
                        echo=lambda line: echo.print(line, markup=False), root=root)  # fmt: skip


def _exit(record: JobRecord, *, wait: bool) -> None:
    """Exit 0 for Completed (or submitted, with ``--no-wait``), 130 when Ctrl-C stopped the
    watching of an Azure ML job that runs on, 1 otherwise."""
    if record.status not in FINAL:
        if wait:
            raise typer.Exit(130)
        return
    if record.status != "Completed":
        raise typer.Exit(1)


def _steps_table(steps: list[JobRecord]) -> Table:
    table = Table("step", "component", "status", "duration", "reused from")
    for step in steps:
        duration = "" if step.duration is None else f"{step.duration:.1f} s"
        table.add_row(str(step.extra.get("step", step.id)), str(step.extra.get("component", "")),
                      step.status, duration, str(step.extra.get("reused_from") or ""))  # fmt: skip
    return table


def _run_on_azure(
    project: Project, config: StackConfig, spec: JobSpec, *, output: list[str] | None,
    seed: int | None, wait: bool, output_format: Format,
) -> None:  # fmt: skip
    """Submit to the stack's Azure ML workspace; exit 0 only for Completed (or submitted,
    with ``--no-wait``), 130 when Ctrl-C stopped the watching."""
    local_only = [Problem(str(spec.source), flag, "applies to the local target only: on azure, "
                          "outputs land in the workspace and the sweep seed is the YAML's "
                          "sampling_algorithm.seed") for flag, given in
                  (("--output", output), ("--seed", seed is not None)) if given]  # fmt: skip
    if local_only:
        raise ConfigError(local_only)
    # azure-ai-ml takes seconds to import: only a submission pays for it, not every command
    from mlstack.jobs.submit import connect_workspace, run_azure_job  # noqa: PLC0415

    # with --format json, stdout is the record alone: progress goes to stderr
    progress = console if output_format is Format.table else Console(stderr=True)
    record = run_azure_job(project.home, config.stack, spec, connect_workspace(config),
                           echo=lambda line: progress.print(line, markup=False),
                           wait=wait)  # fmt: skip
    store = JobStore.at(project.home, config.stack)
    _print(record, store, output_format)
    _exit(record, wait=wait)


def _print(record: JobRecord, store: JobStore, output_format: Format) -> None:
    trials = store.list(parent=record.id) if record.kind == "sweep" else []
    steps = store.list(parent=record.id) if record.kind == "pipeline" else []
    steps.sort(key=lambda s: (s.started_at or "~", str(s.extra.get("step", s.id))))  # run order
    if output_format is Format.json:
        body = record.to_dict()
        if trials:
            body["trials"] = [t.to_dict() for t in trials]
        if steps:
            body["steps"] = [s.to_dict() for s in steps]
        print(json.dumps(body, indent=2, sort_keys=True))
        return
    if steps:
        console.print(_steps_table(steps))
    if trials:
        console.print(trials_table(record, trials))
        console.print(f"plot: {Path(record.workdir) / PLOT_FILE}")
    console.print(f"job {record.id}: [bold]{record.status}[/]"
                  f"{f' ({record.reason})' if record.reason else ''}")  # fmt: skip
    for key, value in sorted(record.inputs.items()):
        if isinstance(value, dict) and "version" in value:
            console.print(f"  input {key}: {value['name']}:{value['version']}  {value['digest']}")
    for key, value in sorted(record.outputs.items()):
        console.print(f"  output {key}: {value}")
    for key, value in sorted(record.metrics.items()):
        console.print(f"  metric {key}: {value}")
    if record.duration is not None:
        console.print(f"  duration {record.duration:.1f} s; folder {record.workdir}")


@job_app.command("list")
def list_command(stack: StackOption = None, output_format: FormatOption = Format.table) -> None:
    """Jobs and sweeps of the stack, newest first."""
    _, store = _store(stack)
    jobs = store.list()
    if output_format is Format.json:
        print(json.dumps([j.to_dict() for j in jobs], indent=2, sort_keys=True))
    else:
        console.print(jobs_table(jobs))


@job_app.command("show")
def show_command(
    job_id: Annotated[str, typer.Argument(help="job, sweep or trial id")],
    stack: StackOption = None,
    output_format: FormatOption = Format.table,
) -> None:
    """One job: status, exact inputs, outputs, metrics; a sweep also lists its trials; a
    pipeline its steps, drawn as a graph (a Mermaid block and a PNG)."""
    _, store = _store(stack)
    record = store.get(job_id)
    _print(record, store, output_format)
    if record.kind == "pipeline" and output_format is Format.table:
        _graph(record, store)


def _graph(record: JobRecord, store: JobStore) -> None:
    """The pipeline as a Mermaid block (for a pull request or a wiki) and as a PNG."""
    from mlstack.jobs.pipeline.graph import GRAPH_FILE, render_mermaid, render_png  # noqa: PLC0415

    steps = store.list(parent=record.id)
    console.print("```mermaid\n" + render_mermaid(record, steps) + "```", markup=False)
    folder = Path(record.workdir) if record.workdir else Path.cwd()
    name = GRAPH_FILE if record.workdir else f"{record.id}-{GRAPH_FILE}"
    console.print(f"graph: {render_png(record, folder / name, steps)}", markup=False)


@job_app.command("logs")
def logs_command(
    job_id: Annotated[str, typer.Argument(help="job or trial id")],
    stack: StackOption = None,
) -> None:
    """Print a job's log (stdout and stderr of its command)."""
    _, store = _store(stack)
    record = store.get(job_id)
    log = Path(record.workdir) / LOG_FILE
    if record.kind == "pipeline":
        steps = ", ".join(s.id for s in store.list(parent=record.id)) or "none yet"
        console.print(f"{record.id} is a pipeline: its steps log one by one "
                      f"(`mlstack job logs STEP_JOB_ID`; steps: {steps})")  # fmt: skip
        return
    if not log.is_file():
        console.print(f"{record.id} has no log ({record.kind}s log per trial: "
                      f"`mlstack job logs {record.id}_0`)")  # fmt: skip
        return
    print(log.read_text(errors="replace"), end="")
