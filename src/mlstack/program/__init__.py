"""The Pulumi program: read and validate everything, then declare the stack.

All input — stack config, asset specs, data folders, model artefacts — is checked first;
invalid input stops the run with every problem listed and nothing declared. Both targets
take one path: the same planning (digests, change summaries, gates, promotions) against
the stack's workspace and the same asset resources (:mod:`.assets`); only what lies under
them differs — a local platform (:mod:`.local`), or the azure-native estate or an attached
workspace (:mod:`.azure`) — and so do endpoints.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.runtime.config import CONFIG

from mlstack.config.stack import NAMESPACE, StackConfig, load_stack_config
from mlstack.errors import MlstackError
from mlstack.program.assets import Opener, load_specs, plan, planning_workspace
from mlstack.project import Project
from mlstack.workspace import open_workspace

if TYPE_CHECKING:
    from mlstack.program.azure import RegistryReader

__all__ = ["build", "main"]


def _namespace_values() -> dict[str, Any]:
    """All ``mlstack:*`` keys of the stack, with structured values decoded."""
    values: dict[str, Any] = {}
    for key, raw in CONFIG.get().items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue
        values[name] = json.loads(raw) if raw.startswith(("{", "[")) else raw
    return values


def build(
    config: StackConfig, project: Project, opener: Opener = open_workspace,
    registry: RegistryReader | None = None,
) -> None:  # fmt: skip
    """Declare the stack's resources and outputs; all input is validated first.

    ``opener`` opens the stack's workspace for planning, ``registry`` reads an Azure ML
    registry's digests for ``via: registry`` pins (tests pass their own).
    """
    specs = load_specs(config, project)
    planned = plan(config, project, specs, planning_workspace(config, project, opener))
    if config.target == "azure":
        from mlstack.program.azure import build_azure  # noqa: PLC0415 - azure-native is slow

        build_azure(config, project, specs, planned, registry)
    else:
        from mlstack.program.local import build_local  # noqa: PLC0415

        build_local(config, planned)


def main() -> None:
    """Entry point run by the Pulumi language host (see ``__main__.py``)."""
    try:
        config = load_stack_config(pulumi.get_stack(), _namespace_values())
        build(config, Project.find())
    except MlstackError as error:
        # RunError is reported as a plain message: the user sees the problem, no traceback.
        raise pulumi.RunError(str(error)) from None
