"""``mlstack review [-s STACK ...] [--output FILE]``: previews as one PR comment.

Runs ``pulumi preview --json`` for each stack and prints (or writes) the Markdown that
:mod:`mlstack.review` renders. Without ``-s`` it reviews the selected stack only:
reviewing every ``stacks/Pulumi.*.yaml`` would reach for Azure credentials a local
checkout may not have, so CI names its stacks explicitly.

Local stacks run with the offline environment (``mlstack shell-env``); azure stacks with the
user's own (backend login, Azure credentials), only with the project's pulumi first on
PATH. A failed preview still prints JSON with its diagnostics: it becomes the stack's
problems in the comment, and the command exits 1 after writing the whole comment. Every
preview runs the policy pack in ``policy/`` (:mod:`mlstack.cli.guardrails`), and its
violations are among those diagnostics.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from mlstack.cli.guardrails import policy_pack
from mlstack.cli.stack import selected_stack
from mlstack.config.naming import stack_file
from mlstack.config.yamlfile import load_yaml
from mlstack.errors import MlstackError
from mlstack.project import Project
from mlstack.review import StackReview, summarise
from mlstack.review_markdown import render_markdown
from mlstack.toolchain import offline_environment

PREVIEW_FLAGS = ("--json", "--skip-plugin-pre-install", "--non-interactive")
PREVIEW_TIMEOUT_S = 1800

StacksOption = Annotated[
    list[str] | None,
    typer.Option("--stack", "-s", help="Stack to preview; repeat for several. Default: selected."),
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the Markdown here, not to stdout.")
]


def stack_target(project: Project, stack: str) -> str:
    """``mlstack:target`` of the stack's config file; ``local`` when unset or unreadable."""
    path = project.root / "stacks" / f"Pulumi.{stack}.yaml"
    try:
        config = (load_yaml(path, stack_file(stack)) or {}).get("config") or {}
    except (OSError, yaml.YAMLError):
        return "local"  # pulumi itself reports a missing or broken stack file
    return str(config.get("mlstack:target", "local"))


def preview_environment(project: Project, stack: str) -> dict[str, str]:
    base = dict(os.environ)
    if stack_target(project, stack) == "local":
        return {**base, **offline_environment(project, base)}
    tools = str(project.tools / "bin")
    return {**base, "PATH": os.pathsep.join((tools, base.get("PATH", "")))}


def run_preview(project: Project, stack: str) -> dict[str, Any]:
    """The preview with the policy pack, its violations first among the diagnostics."""
    with policy_pack(project) as policies:
        preview = _preview(project, stack, policies.args, policies.env)
    preview["diagnostics"] = [*policies.violations, *(preview.get("diagnostics") or [])]
    return preview


def _preview(
    project: Project, stack: str, flags: tuple[str, ...], extra_env: dict[str, str]
) -> dict[str, Any]:
    """The preview JSON; a preview that printed none becomes one error diagnostic."""
    env = {**preview_environment(project, stack), **extra_env}
    pulumi = shutil.which("pulumi", path=env["PATH"])
    if pulumi is None:
        raise MlstackError("no pulumi CLI found: run `make setup`")
    try:
        result = subprocess.run(
            [pulumi, "preview", *PREVIEW_FLAGS, *flags, "--stack", stack], cwd=project.root,
            env=env, capture_output=True, text=True, timeout=PREVIEW_TIMEOUT_S, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return _failure(f"pulumi preview took longer than {PREVIEW_TIMEOUT_S}s and was stopped")
    try:
        preview = json.loads(result.stdout)
    except ValueError:
        preview = None
    if not isinstance(preview, dict):
        # Failures before the engine starts (unknown stack, bad YAML) print no JSON.
        message = result.stderr.strip() or result.stdout.strip() or "pulumi preview failed"
        return _failure(f"{message} (pulumi exited {result.returncode})")
    if result.returncode != 0 and not any(
        d.get("severity") == "error" for d in preview.get("diagnostics") or []
    ):
        stderr = result.stderr.strip() or f"pulumi preview exited {result.returncode}"
        preview.setdefault("diagnostics", []).append({"severity": "error", "message": stderr})
    return preview


def _failure(message: str) -> dict[str, Any]:
    return {"steps": [], "diagnostics": [{"severity": "error", "message": message}]}


def review_command(stacks: StacksOption = None, output: OutputOption = None) -> None:
    """Summarise `pulumi preview` of each stack as Markdown for a pull request."""
    project = Project.find()
    names = list(dict.fromkeys(stacks or [selected_stack(project, None)]))
    reviews: list[StackReview] = [summarise(s, run_preview(project, s)) for s in names]
    markdown = render_markdown(reviews)
    if output is None:
        print(markdown, end="")
    else:
        output.write_text(markdown)
        typer.echo(f"wrote the review of {', '.join(names)} to {output}", err=True)
    if any(review.failed for review in reviews):
        raise typer.Exit(1)
