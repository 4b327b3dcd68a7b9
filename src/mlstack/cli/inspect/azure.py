"""The ``azure`` target's own rows in the inspection commands: workspace, datastores, compute.

Asset commands reach an Azure workspace through the workspace protocol like a local one;
the workspace, datastore and compute listings are Azure ML facts with no local twin, so
they are read here with azure-ai-ml's ``MLClient``, signed in as the user
(:func:`mlstack.workspace.credential.default_credential`). Building the client sends no
request.

azure-ai-ml takes seconds to import, so it is imported here only when a stack targets
Azure: this module's top level imports none of it, and the local commands stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlstack.config.azure import AzureSettings
from mlstack.config.stack import StackConfig

__all__ = ["AzureView", "open_azure"]


@dataclass(frozen=True)
class AzureView:
    """An Azure stack's settings and an ``MLClient`` for its workspace."""

    stack: str
    settings: AzureSettings
    client: Any
    """azure-ai-ml's ``MLClient`` (untyped: azure-ai-ml ships no type information)."""

    @property
    def workspace_id(self) -> str:
        return self.settings.locator.workspace_id


def open_azure(stack: str, config: StackConfig) -> AzureView:
    """The Azure-only view of ``stack`` (an azure stack's validated config)."""
    if config.azure is None:  # the config's own validator requires it for the azure target
        raise AssertionError("an azure stack's config without azure settings")
    from azure.ai.ml import MLClient  # noqa: PLC0415 - slow, Azure only

    from mlstack.workspace.credential import default_credential  # noqa: PLC0415

    s = config.azure
    credential = default_credential(f"stack {stack!r}")
    client = MLClient(credential, s.subscription_id, s.resource_group, s.workspace_name)
    return AzureView(stack, s, client)
