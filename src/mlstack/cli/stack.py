"""Which stack a command acts on, and that stack's workspace: shared by every command."""

from __future__ import annotations

import os
import shutil
import subprocess

from mlstack.config.locator import LocalLocator
from mlstack.config.stack import StackConfig, read_stack_config
from mlstack.errors import MlstackError
from mlstack.project import Project
from mlstack.toolchain import offline_environment
from mlstack.workspace import Workspace, open_workspace


def selected_stack(project: Project, stack: str | None) -> str:
    """``stack`` if given, else the stack `pulumi stack select` chose."""
    if stack:
        return stack
    env = {**os.environ, **offline_environment(project)}
    pulumi = shutil.which("pulumi", path=env["PATH"])
    if pulumi is None:
        raise MlstackError(
            "no stack given and no pulumi CLI to ask: pass -s STACK, or run `make setup`"
        )
    result = subprocess.run(
        [pulumi, "stack", "--show-name"], cwd=project.root, env=env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    name = result.stdout.strip()
    if result.returncode != 0 or not name:
        raise MlstackError("no stack is selected: pass -s STACK (e.g. -s local)")
    return name


def open_stack(stack: str | None) -> tuple[str, StackConfig, Workspace]:
    """The stack's name, validated config and workspace (on either target).

    A local stack's workspace is opened as its catalog records it, so a stack that was
    never brought up says "run `pulumi up` first" instead of reading as empty.
    """
    project = Project.find()
    name = selected_stack(project, stack)
    config = read_stack_config(project.root, name)
    locator = config.locator
    if isinstance(locator, LocalLocator):
        locator = LocalLocator(stack=name)
    return name, config, open_workspace(locator, project)


def stack_workspace(stack: str | None) -> tuple[str, Workspace]:
    """The stack's name and its workspace."""
    name, _, ws = open_stack(stack)
    return name, ws
