"""The Pulumi program: read and validate config, then build the stack's target.

Invalid configuration stops the run with every problem listed and nothing declared.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG

from mlstack.components.local_platform import LocalPlatform
from mlstack.config.stack import NAMESPACE, StackConfig, load_stack_config
from mlstack.errors import MlstackError
from mlstack.project import Project


def _namespace_values() -> dict[str, Any]:
    """All ``mlstack:*`` keys of the stack, with structured values decoded."""
    values: dict[str, Any] = {}
    for key, raw in CONFIG.get().items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue
        values[name] = json.loads(raw) if raw.startswith(("{", "[")) else raw
    return values


def build(config: StackConfig, project: Project) -> None:
    """Declare the stack's resources and outputs."""
    if config.target != "local":
        raise MlstackError(
            f"target {config.target!r} is not available yet in this version of mlstack: "
            "set mlstack:target to 'local'"
        )
    platform = LocalPlatform("platform", config, project.home)
    workspace = platform.workspace
    pulumi.export("target", config.target)
    pulumi.export("workspace", workspace.name)
    pulumi.export("datastore", workspace.datastore)
    pulumi.export("datastore_uri", workspace.datastore_uri)
    pulumi.export("container", workspace.container)
    pulumi.export("catalog", workspace.catalog)


def main() -> None:
    """Entry point run by the Pulumi language host (see ``__main__.py``)."""
    try:
        config = load_stack_config(pulumi.get_stack(), _namespace_values())
        build(config, Project.find())
    except MlstackError as error:
        # RunError is reported as a plain message: the user sees the problem, no traceback.
        raise pulumi.RunError(str(error)) from None
