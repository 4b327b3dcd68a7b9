"""A stack's Pulumi backend, reached through the Pulumi Automation API.

The only module that runs ``pulumi``: which stack is selected, a stack's outputs (secrets
decrypted), its state (secrets left encrypted) and its preview as JSON. It drives the
project's own CLI (the first ``pulumi`` on the PATH a stack's environment sets,
``.tools/bin`` for the project's build), which the Automation API accepts only with a
version it can parse — ``tools/pulumi/build.sh`` stamps it through ``-ldflags``.

Two choices differ from the Automation API's tutorial path, on purpose:

- no ``auto.Stack.select``: it runs ``pulumi stack select``, which would change the stack
  the user's next bare ``pulumi up`` acts on. Every call here names its stack with
  ``--stack`` instead (the workspace methods ``stack_outputs`` and ``list_stacks`` do).
- the preview runs through the Automation API's CLI runner (``PulumiCommand.run``), not
  ``auto.Stack.preview``, which has no ``--skip-plugin-pre-install`` (the flag that keeps
  an offline preview from reaching for plugin downloads) and needs a selected stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlstack.errors import StackError, ToolchainError
from mlstack.project import Project
from mlstack.toolchain import offline_environment

if TYPE_CHECKING:
    from pulumi import automation as auto

__all__ = ["PREVIEW_FLAGS", "Backend", "environment"]

PREVIEW_FLAGS = ("--json", "--skip-plugin-pre-install")

# Words the pulumi CLI uses for a backend it is not logged in to, or cannot reach.
_LOGIN_HINTS = ("pulumi_access_token", "pulumi login", "not logged in", "unauthorized", "401")
_REACH_HINTS = ("unable to open", "no such host", "connection refused", "dial tcp", "timeout")


def environment(project: Project, target: str) -> dict[str, str]:
    """What ``pulumi`` runs with for a stack of ``target``.

    Local stacks run offline (``mlstack shell-env``: the project's CLI, the file backend under
    ``.mlstack/state``, the local passphrase); azure stacks with the user's own environment
    (backend login, Azure credentials), the project's CLI first on PATH.
    """
    base = dict(os.environ)
    if target == "local":
        return {**base, **offline_environment(project, base)}
    tools = str(project.tools / "bin")
    return {**base, "PATH": os.pathsep.join((tools, base.get("PATH", "")))}


class Backend:
    """The Automation API's workspace for the project, in one environment."""

    def __init__(self, project: Project, env: Mapping[str, str]) -> None:
        self.project = project
        self.env = dict(env)
        self._workspace: auto.LocalWorkspace | None = None

    @property
    def url(self) -> str:
        """The backend as messages name it."""
        return self.env.get("PULUMI_BACKEND_URL") or "the backend of `pulumi whoami`"

    def workspace(self) -> auto.LocalWorkspace:
        """The Automation API's ``LocalWorkspace`` over the project root, made once."""
        if self._workspace is None:
            from pulumi import automation as auto  # noqa: PLC0415 - grpc; CLI paths only

            self._workspace = auto.LocalWorkspace(
                work_dir=str(self.project.root), env_vars=self.env,
                pulumi_command=self._command(),
            )  # fmt: skip
        return self._workspace

    def _command(self) -> auto.PulumiCommand:
        from pulumi import automation as auto  # noqa: PLC0415

        found = shutil.which("pulumi", path=self.env.get("PATH", ""))
        if found is None:
            raise ToolchainError("no pulumi CLI found: run `make setup` (it builds the pinned one)")
        cli = Path(found)
        try:
            # PulumiCommand runs <root>/bin/pulumi; the unresolved path keeps .tools/bin,
            # so the language host and provider scripts beside it are found too.
            return auto.PulumiCommand(root=str(cli.parent.parent) if cli.parent.name == "bin"
                                      else None)  # fmt: skip
        except auto.InvalidVersionError as error:
            raise ToolchainError(
                f"the pulumi CLI at {cli} is refused by the Automation API ({error}): run "
                "`make setup` to build the pinned version with its version stamp"
            ) from None
        except (OSError, subprocess.CalledProcessError) as error:
            raise ToolchainError(
                f"the pulumi CLI at {cli} does not run ({error}): run `make setup`"
            ) from None

    def selected(self) -> str | None:
        """The stack `pulumi stack select` chose for this project, if any."""
        from pulumi.automation.errors import CommandError  # noqa: PLC0415

        try:
            summary = self.workspace().stack()
        except CommandError as error:
            raise StackError(
                "", f"cannot ask {self.url} which stack is selected ({_first_line(error)}): "
                "pass -s STACK (e.g. -s local)",
            ) from None  # fmt: skip
        return summary.name if summary is not None else None

    def outputs(self, stack: str) -> dict[str, Any]:
        """The stack's outputs with secrets decrypted (``pulumi stack output --show-secrets``)."""
        from pulumi.automation.errors import CommandError  # noqa: PLC0415

        try:
            found = self.workspace().stack_outputs(stack)
        except CommandError as error:
            raise self._error(stack, error) from None
        return {key: value.value for key, value in found.items()}

    def export(self, stack: str) -> dict[str, Any]:
        """The stack's state, ``pulumi stack export``, with secrets left as ciphertext.

        Through the CLI runner: the Automation API's ``export_stack`` always adds
        ``--show-secrets``, which a report that only reads versions and traffic must not.
        """
        from pulumi.automation.errors import CommandError  # noqa: PLC0415

        workspace = self.workspace()
        try:
            result = workspace.pulumi_command.run(
                ["stack", "export", "--stack", stack], workspace.work_dir, self.env
            )
        except CommandError as error:
            raise self._error(stack, error) from None
        try:
            exported = json.loads(result.stdout)
        except ValueError:
            exported = None
        if not isinstance(exported, dict):
            raise StackError(stack, f"pulumi printed no state for stack {stack!r}: run "
                             f"`pulumi stack export --stack {stack}` to see why")  # fmt: skip
        return exported

    def preview_json(
        self, stack: str, flags: tuple[str, ...] = (), env: Mapping[str, str] | None = None
    ) -> tuple[dict[str, Any] | None, str, int]:
        """``pulumi preview --json``: the JSON (None when it printed none), stderr, exit code.

        A failed preview still prints its JSON, with the failure as diagnostics.
        """
        from pulumi.automation.errors import CommandError  # noqa: PLC0415

        workspace = self.workspace()
        out: list[str] = []
        err: list[str] = []
        args = ["preview", *PREVIEW_FLAGS, *flags, "--stack", stack]
        try:
            workspace.pulumi_command.run(
                args, workspace.work_dir, {**self.env, **(env or {})},
                on_output=out.append, on_error=err.append,
            )  # fmt: skip
            code = 0
        except CommandError as error:
            code = _exit_code(error)
        try:
            preview = json.loads("\n".join(out))
        except ValueError:
            preview = None
        return (preview if isinstance(preview, dict) else None), "\n".join(err).strip(), code

    def _error(self, stack: str, error: Exception) -> StackError:
        """The CLI's failure as what the user should do about it."""
        from pulumi.automation.errors import StackNotFoundError  # noqa: PLC0415

        said, first = _stderr(error), _first_line(error)
        if isinstance(error, StackNotFoundError):
            return StackError(
                stack, f"stack {stack!r} does not exist in {self.url}: it was never deployed; "
                f"run `pulumi stack init {stack}` and `pulumi up -s {stack}` first",
            )  # fmt: skip
        lowered = said.lower()
        if any(hint in lowered for hint in _LOGIN_HINTS):
            return StackError(
                stack, f"not logged in to {self.url}, the Pulumi backend of stack {stack!r} "
                f"({first}): run `pulumi login` for it (or set PULUMI_ACCESS_TOKEN)",
            )  # fmt: skip
        if any(hint in lowered for hint in _REACH_HINTS):
            return StackError(
                stack, f"cannot reach {self.url}, the Pulumi backend of stack {stack!r} "
                f"({first}): check PULUMI_BACKEND_URL and your connection",
            )  # fmt: skip
        if "passphrase" in lowered:
            return StackError(
                stack, f"cannot decrypt the secrets of stack {stack!r} ({first}): set "
                "PULUMI_CONFIG_PASSPHRASE to its passphrase (local stacks: `mlstack shell-env`)",
            )  # fmt: skip
        return StackError(stack, f"pulumi cannot read stack {stack!r} in {self.url}: {first}")


def _stderr(error: Exception) -> str:
    """The CLI's stderr inside an Automation API error, whose text is the whole result
    (lines `` code: N``, `` stdout: ...``, `` stderr: ...``)."""
    text = str(error)
    _, found, stderr = text.partition("\n stderr: ")
    return stderr.strip() if found else text.strip()


def _first_line(error: Exception) -> str:
    """The CLI's own first line of complaint, ``error: `` removed."""
    lines = [line.strip() for line in _stderr(error).splitlines() if line.strip()]
    said = next((line for line in lines if line.startswith("error:")), lines[0] if lines else "")
    return said.removeprefix("error:").strip() or "no message"


def _exit_code(error: Exception) -> int:
    text = str(error)
    _, found, rest = text.partition(" code: ")
    try:
        return int(rest.split(maxsplit=1)[0]) if found else 1
    except (ValueError, IndexError):
        return 1
