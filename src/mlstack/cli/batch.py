"""``mlstack batch invoke``: score a data version with a declared batch endpoint.

Local stacks run the deployment here (:mod:`mlstack.batch.local`) and register the
predictions as a new data version; azure stacks submit the job through azure-ai-ml with
the input pinned to an exact version (:mod:`mlstack.batch.azure`).
"""

from __future__ import annotations

from typing import Annotated, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mlstack.batch.azure import submit
from mlstack.batch.local import BatchOutcome, invoke_local
from mlstack.cli.inspect.common import console, emit
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.config.batch import BatchEndpointSpec, load_batch_specs
from mlstack.errors import ConfigError, Problem
from mlstack.stack import open_stack
from mlstack.workspace.protocol import ServiceWorkspace

batch_app = typer.Typer(help="Batch endpoints: score a data asset version.", no_args_is_help=True)


def _endpoint(specs: tuple[BatchEndpointSpec, ...], name: str) -> BatchEndpointSpec:
    for spec in specs:
        if spec.name.casefold() == name.casefold():
            return spec
    declared = ", ".join(s.name for s in specs) or "none"
    raise ConfigError(
        [
            Problem(
                "assets/endpoints",
                name,
                f"no batch endpoint {name!r} is declared (declared: {declared}): add "
                f"assets/endpoints/{name}.yaml or correct the name",
            )
        ]
    )


def _summary(outcome: BatchOutcome) -> dict[str, object]:
    report = outcome.report
    output = outcome.output
    return {
        "input": f"{outcome.input.name}:{outcome.input.version}",
        "model": f"{outcome.model.name}:{outcome.model.version}",
        "items": report.items,
        "mini_batches": report.mini_batches,
        "failed_items": report.failed_items,
        "retried": report.retried,
        "seconds": round(report.seconds, 2),
        "output": f"{output.name}:{output.version}" if output is not None else None,
        "output_new": outcome.new,
        "failures": [
            {"mini_batch": f.index, "files": len(f.files), "reason": f.reason}
            for f in report.failures
        ],
    }


@batch_app.command("invoke")
def invoke_command(  # noqa: PLR0917 - typer: one parameter per option
    endpoint: Annotated[str, typer.Argument(help="A batch endpoint of assets/endpoints.")],
    input_: Annotated[
        str, typer.Option("--input", "-i", help="Data version: azureml:NAME:VERSION or NAME@latest")
    ],
    deployment: Annotated[
        str | None, typer.Option("--deployment", "-d", help="Default: the endpoint's default.")
    ] = None,
    output_name: Annotated[
        str | None, typer.Option("--output-name", help="Data asset for the predictions.")
    ] = None,
    stack: StackOption = None,
    output: FormatOption = Format.table,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on a terminal.")
    ] = True,
) -> None:
    """Run the endpoint's deployment over a data version; print what it did."""
    opened = open_stack(stack)
    spec = _endpoint(load_batch_specs(opened.project.root), endpoint)
    chosen = spec.deployment(deployment)
    ws = opened.workspace()
    if opened.target == "azure":
        client = cast(ServiceWorkspace, ws).client  # azure stacks open a service workspace
        job = submit(client, spec.name, chosen.name, ws.data, input_)
        emit(output, job.to_dict(), lambda: f"submitted {job}")
        return
    bar = Progress(
        TextColumn(f"{spec.name}/{chosen.name}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, disable=not progress or output is Format.json,
        transient=True,
    )  # fmt: skip
    task = bar.add_task("score", total=None)
    with bar:
        outcome = invoke_local(
            ws, chosen, input_, opened.project.stack_home(opened.name) / "batch",
            output_name or f"{spec.name}-predictions",
            on_progress=lambda n: bar.advance(task, n),
            on_start=lambda total: bar.update(task, total=total),
        )  # fmt: skip
    emit(output, _summary(outcome), lambda: _text(outcome))


def _text(outcome: BatchOutcome) -> str:
    report, output = outcome.report, outcome.output
    lines = [
        f"scored {outcome.input.name}:{outcome.input.version} with model "
        f"{outcome.model.name}:{outcome.model.version}: {report.items} items in "
        f"{report.mini_batches} mini-batches, {report.failed_items} failed, "
        f"{report.retried} retried, {report.seconds:.1f} s",
    ]
    lines.extend(
        f"  mini-batch {f.index} ({len(f.files)} files) failed: {f.reason}" for f in report.failures
    )
    if output is None:
        lines.append("output_action summary_only: no predictions were written")
    else:
        state = "a new version" if outcome.new else "the same content as this existing version"
        lines.append(f"predictions: data {output.name}:{output.version} ({state})")
    return "\n".join(lines)
