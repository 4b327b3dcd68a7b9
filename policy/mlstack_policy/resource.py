"""What a policy sees of one resource, and the resource types mlstack's policies know.

Inputs arrive as the engine holds them: azure-native properties in ARM's camelCase
(``publicNetworkAccess``, ``properties.authMode``), mlstack's own resources with the keys
of their inputs model (``mlstack.config.resources``: ``properties.metrics``, ``gates``).
During a preview some values are not known yet; pulumi_policy's proxy raises on reading
one, and the policy is then reported as not run for that resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MLSTACK = "pulumi-python:dynamic/mlstack:"
"""mlstack's own resources (dynamic providers), e.g. ``...mlstack:ModelVersion``."""
ML = "azure-native:machinelearningservices:"

MODEL_VERSION = f"{MLSTACK}ModelVersion"
PROMOTED_MODEL = f"{MLSTACK}PromotedModel"
DATA_ASSET = f"{MLSTACK}DataAsset"
LOCAL_WORKSPACE = f"{MLSTACK}Workspace"

ML_WORKSPACE = f"{ML}Workspace"
ML_REGISTRY = f"{ML}Registry"
COMPUTE = f"{ML}Compute"
ONLINE_ENDPOINT = f"{ML}OnlineEndpoint"
BATCH_ENDPOINT = f"{ML}BatchEndpoint"
SERVERLESS_ENDPOINT = f"{ML}ServerlessEndpoint"
ONLINE_DEPLOYMENT = f"{ML}OnlineDeployment"
BATCH_DEPLOYMENT = f"{ML}BatchDeployment"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
KEY_VAULT = "azure-native:keyvault:Vault"


@dataclass(frozen=True)
class Resource:
    """One resource as a policy reads it: type token, logical name, inputs, ``protect``."""

    type: str
    name: str
    props: Mapping[str, Any] = field(default_factory=dict)
    protect: bool = False
    urn: str = ""

    @property
    def kind(self) -> str:
        """The type's last segment, e.g. ``StorageAccount`` or ``ModelVersion``."""
        return self.type.rsplit(":", 1)[-1]

    @property
    def label(self) -> str:
        """How messages name the resource: its type and its name in the program."""
        return f"{self.kind} {self.name!r}"

    def get(self, *path: str) -> Any:
        """The input at ``path`` (``get("properties", "authMode")``), or None if absent."""
        value: Any = self.props
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                return None
            value = value[key]
        return value


def is_sequence(value: Any) -> bool:
    """A list of values (as the engine sends arrays), not a string."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def same(value: Any, expected: str) -> bool:
    """ARM enum values compare case-insensitively (key vault writes ``disabled``)."""
    return isinstance(value, str) and value.casefold() == expected.casefold()
