"""LocalPlatform: the offline target's infrastructure for one stack.

Today a workspace record and its datastore container; compute and endpoints join it as
local processes. It declares no azure-native resource, so the local target needs no
cloud plugin.
"""

from __future__ import annotations

import pulumi

from mlstack.config.stack import StackConfig
from mlstack.providers.workspace import Workspace


class LocalPlatform(pulumi.ComponentResource):
    """The workspace (catalog + Azurite container) of a ``local`` stack."""

    workspace: Workspace

    def __init__(
        self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlstack:local:Platform", name, None, opts)
        self.workspace = Workspace(
            f"{name}-workspace",
            stack=config.stack,
            container=config.datastore_container,
            description=config.description,
            tags=config.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {"workspace": self.workspace.name, "container": self.workspace.container}
        )
