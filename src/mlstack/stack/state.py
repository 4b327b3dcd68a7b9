"""What a stack's Pulumi state records: its resources and their last known outputs.

Read from ``pulumi stack export`` *without* ``--show-secrets``: secret values (endpoint
keys, the pickled providers) stay ciphertext, so nothing that reads the state here can
print one. Only live resources are kept: the stack resource, component resources,
provider references and resources pending deletion (a replacement's old half) are not
what the stack declares now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DYNAMIC", "StateResource", "state_resources"]

DYNAMIC = "pulumi-python:dynamic"
"""The type prefix of every Python dynamic resource (mlstack's are ``…/mlstack:<Name>``)."""


@dataclass(frozen=True)
class StateResource:
    """One custom resource as the state holds it: its URN, type and outputs."""

    urn: str
    type: str
    outputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The resource's logical name, the URN's last part (``data-digits-train``)."""
        return self.urn.rsplit("::", 1)[-1]

    @property
    def dynamic_type(self) -> str:
        """``DataAsset`` for ``pulumi-python:dynamic/mlstack:DataAsset``; ``Resource`` for
        an unnamed dynamic resource; empty for anything else."""
        if not self.type.startswith(DYNAMIC):
            return ""
        return self.type.rsplit(":", 1)[-1]


def state_resources(exported: Mapping[str, Any]) -> tuple[StateResource, ...]:
    """The live custom resources of an exported state (``{"version", "deployment"}``)."""
    deployment = exported.get("deployment") or {}
    found = []
    for raw in deployment.get("resources") or []:
        kind = str(raw.get("type", ""))
        if not raw.get("custom") or raw.get("delete") or kind.startswith("pulumi:providers:"):
            continue
        found.append(StateResource(str(raw["urn"]), kind, dict(raw.get("outputs") or {})))
    return tuple(found)
