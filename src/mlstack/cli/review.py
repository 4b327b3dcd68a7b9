"""``mlstack review [-s STACK ...] [--output FILE]``: previews as one PR comment.

Runs ``pulumi preview --json`` of each stack (:meth:`mlstack.stack.Stack.preview_json`)
and prints (or writes) the Markdown that :mod:`mlstack.review` renders. Without ``-s`` it
reviews the selected stack only: reviewing every ``stacks/Pulumi.*.yaml`` would reach for
Azure credentials a local checkout may not have, so CI names its stacks explicitly.

Local stacks preview with the offline environment (``mlstack shell-env``); azure stacks
with the user's own (backend login, Azure credentials), only with the project's pulumi
first on PATH. A failed preview still prints JSON with its diagnostics: it becomes the
stack's problems in the comment, and the command exits 1 after writing the whole comment.
A stack that cannot be previewed at all (an unreadable stack file) is reported the same way.
Every preview runs the policy pack in ``policy/`` (:mod:`mlstack.cli.guardrails`), and its
violations come first among those diagnostics. A promoted model's lineage graph continues
into its source version, read through the source stack's workspace when it can be opened
here; otherwise the promotion pin stands in for it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from mlstack.cli.guardrails import policy_pack
from mlstack.errors import MlstackError
from mlstack.project import Project
from mlstack.review import ModelChange, StackReview, render_markdown, summarise
from mlstack.stack import Stack, failed_preview

StacksOption = Annotated[
    list[str] | None,
    typer.Option("--stack", "-s", help="Stack to preview; repeat for several. Default: selected."),
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the Markdown here, not to stdout.")
]


def run_preview(stack: Stack) -> dict[str, Any]:
    """The stack's preview JSON with the policy pack, its violations first among the
    diagnostics; a stack that could not be previewed, as one diagnostic."""
    try:
        with policy_pack(stack.project) as policies:
            preview = stack.preview_json(policies.args, policies.env)
    except MlstackError as error:  # e.g. a stack file that is not YAML, no pulumi CLI
        return failed_preview(str(error))
    preview["diagnostics"] = [*policies.violations, *(preview.get("diagnostics") or [])]
    return preview


def with_source(project: Project, model: ModelChange) -> ModelChange:
    """``model`` with its promoted source version, if the source's workspace is readable."""
    if model.promotion is None:
        return model
    try:
        source = Stack(project, model.promotion.source_stack).workspace()
        found = source.models.get(model.name, model.promotion.source_version)
    except MlstackError:
        return model
    return replace(model, source=found)


def review_stack(project: Project, name: str) -> StackReview:
    """One stack's review, promoted models traced back to their source versions."""
    review = summarise(name, run_preview(Stack(project, name)))
    return replace(review, models=tuple(with_source(project, m) for m in review.models))


def review_command(stacks: StacksOption = None, output: OutputOption = None) -> None:
    """Summarise `pulumi preview` of each stack as Markdown for a pull request."""
    project = Project.find()
    names = list(dict.fromkeys(stacks or [Stack.selected(project).name]))
    reviews: list[StackReview] = [review_stack(project, s) for s in names]
    markdown = render_markdown(reviews)
    if output is None:
        print(markdown, end="")
    else:
        output.write_text(markdown)
        typer.echo(f"wrote the review of {', '.join(names)} to {output}", err=True)
    if any(review.failed for review in reviews):
        raise typer.Exit(1)
