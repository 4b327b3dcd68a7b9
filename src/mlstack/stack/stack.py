"""One stack of the project — its config, workspace, outputs and preview — opened one way.

Every part of mlstack that reads a stack goes through :class:`Stack`: promotion (both
ends), the review, lineage, jobs, the endpoint and inspection commands, and the program
when it plans a promotion from another stack.

- **config** comes from the stack file, ``stacks/Pulumi.<stack>.yaml`` (Pulumi's
  ``stackConfigDir``), validated by :mod:`mlstack.config.stack` with every problem at once.
  It is read from the file, as ``pulumi`` itself reads it: asking the backend
  (``pulumi config --json``) would fail for a stack that was never deployed — a production
  stack before its first promotion — and cost a CLI run per command.
- **workspace** is opened from the config's locator; a local stack's as its catalog records
  it, so a stack that was never brought up says "run `pulumi up` first".
- **outputs** (secrets decrypted), **resources** (the state's, secrets left encrypted), the
  **selected stack** and the **preview** come from the stack's Pulumi backend through the
  Automation API (:mod:`mlstack.stack.backend`), in the stack's own environment: offline
  for local stacks, the user's for azure ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.config.naming import stack_file
from mlstack.config.stack import StackConfig, load_stack_config, stack_values
from mlstack.errors import StackError
from mlstack.project import Project
from mlstack.stack.backend import Backend, environment
from mlstack.stack.state import StateResource, state_resources
from mlstack.workspace import Workspace, open_workspace

__all__ = ["Stack", "open_stack"]


@dataclass(frozen=True)
class Stack:
    """A stack of ``project`` named ``name``; nothing is read until it is asked for."""

    project: Project
    name: str

    @classmethod
    def selected(cls, project: Project) -> Stack:
        """The stack `pulumi stack select` chose (asked of the offline backend, as
        ``mlstack shell-env`` sets it up; ``PULUMI_BACKEND_URL`` overrides it)."""
        name = Backend(project, environment(project, "local")).selected()
        if not name:
            raise StackError("", "no stack is selected: pass -s STACK (e.g. -s local)")
        return cls(project, name)

    # -- the stack file ---------------------------------------------------------------------

    @property
    def file(self) -> Path:
        """``stacks/Pulumi.<stack>.yaml`` of the project."""
        return self.project.root / stack_file(self.name)

    def require_file(self) -> Stack:
        """This stack, if its stack file exists; else an error saying how to make it."""
        if not self.file.is_file():
            raise StackError(
                self.name, f"{stack_file(self.name)} does not exist: create the stack file "
                "first (for a local one, copy stacks/Pulumi.local-prod.yaml without its "
                "encryptionsalt line)",
            )  # fmt: skip
        return self

    @cached_property
    def values(self) -> dict[str, Any]:
        """The file's ``mlstack:`` keys as written (prefix removed; ``{}`` without a file)."""
        return stack_values(self.project.root, self.name)

    @cached_property
    def config(self) -> StackConfig:
        """The validated config (no file: the local target's defaults)."""
        return load_stack_config(self.name, self.values)

    @property
    def target(self) -> str:
        """``mlstack:target`` as written (default ``local``): known before the config is
        validated, so a preview can still run and report what is wrong with it."""
        return str(self.values.get("target", "local"))

    @property
    def locator(self) -> LocalLocator | AzureLocator:
        """Where the stack's assets are registered, as its asset resources record it."""
        return self.config.locator

    # -- its workspace ----------------------------------------------------------------------

    def workspace(self) -> Workspace:
        """The stack's workspace, through the workspace protocol (either target).

        Local: as the stack's catalog records it, so a stack never brought up says "run
        `pulumi up -s <stack>` first" instead of reading as empty.
        """
        locator = self.locator
        if isinstance(locator, LocalLocator):
            locator = LocalLocator(stack=self.name)
        return open_workspace(locator, self.project)

    # -- its Pulumi backend -----------------------------------------------------------------

    @cached_property
    def backend(self) -> Backend:
        """The Automation API in this stack's environment (see :func:`backend.environment`)."""
        return Backend(self.project, environment(self.project, self.target))

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs, secrets decrypted; every deployed mlstack stack has some."""
        outputs = self.backend.outputs(self.name)
        if not outputs:
            raise StackError(self.name, f"stack {self.name!r} has no outputs: it was never "
                             f"deployed; run `pulumi up -s {self.name}` first")  # fmt: skip
        return outputs

    def output(self, key: str) -> Any:
        """One output; an error that says to deploy when the stack has none of that name."""
        outputs = self.outputs()
        if key not in outputs:
            raise StackError(
                self.name, f"stack {self.name!r} has no output {key!r} (outputs: "
                f"{', '.join(sorted(outputs))}): run `pulumi up -s {self.name}` first",
            )  # fmt: skip
        return outputs[key]

    def resources(self) -> tuple[StateResource, ...]:
        """The custom resources its state records, with their outputs (secrets encrypted);
        every deployed mlstack stack has some."""
        found = state_resources(self.backend.export(self.name))
        if not found:
            raise StackError(
                self.name, f"stack {self.name!r} has no resources in its state: it was never "
                f"deployed; run `pulumi up -s {self.name}` first",
            )  # fmt: skip
        return found

    def preview_json(
        self, flags: tuple[str, ...] = (), env: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """``pulumi preview --json`` of the stack (with extra ``flags`` and ``env``, such
        as the policy pack's), as the engine prints it.

        A preview that failed before printing JSON (unknown stack, unreadable stack file)
        becomes one error diagnostic, and a non-zero exit always carries one, so every
        failure reads the same to the review.
        """
        preview, stderr, code = self.backend.preview_json(self.name, flags, env or {})
        if preview is None:
            message = stderr or "pulumi preview failed"
            return failed_preview(f"{message} (pulumi exited {code})")
        diagnostics = preview.get("diagnostics") or []
        if code != 0 and not any(d.get("severity") == "error" for d in diagnostics):
            said = stderr or f"pulumi preview exited {code}"
            preview["diagnostics"] = [*diagnostics, {"severity": "error", "message": said}]
        return preview


def failed_preview(message: str) -> dict[str, Any]:
    """A preview's JSON that holds only ``message``, as an error diagnostic."""
    return {"steps": [], "diagnostics": [{"severity": "error", "message": message}]}


def open_stack(name: str | None, project: Project | None = None) -> Stack:
    """Stack ``name`` of the project at or above the working directory; the selected
    stack when ``name`` is empty."""
    project = project or Project.find()
    return Stack(project, name) if name else Stack.selected(project)
