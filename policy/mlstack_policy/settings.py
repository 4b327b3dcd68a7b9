"""The guardrails a stack asks for, read from its ``mlstack:policy*`` config keys.

    mlstack:policy: prod                  # standard (default) | prod: prod adds its policies
    mlstack:policyEnforcement:            # mandatory | advisory | disabled, per policy
      default: mandatory                  # every policy not named here (default: mandatory)
      compute-max-nodes: advisory
    mlstack:policySettings:
      maxComputeNodes: 4                  # compute-max-nodes
      instanceTypes: [Standard_DS3_v2]    # instance-types
      requiredTags: [owner, cost-center]  # required-tags

The program validates these keys (``mlstack.config.policy``) and fails the preview on a bad
one, naming the file and key; here they are read leniently, so a pack never fails to start
over a value the program is about to report anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlstack_policy.resource import is_sequence

PROFILES = ("standard", "prod")
LEVELS = ("mandatory", "advisory", "disabled")
DEFAULT_LEVEL = "mandatory"
DEFAULT_MAX_COMPUTE_NODES = 4
DEFAULT_INSTANCE_TYPES = ("Standard_DS2_v2", "Standard_DS3_v2", "Standard_DS4_v2")
DEFAULT_REQUIRED_TAGS = ("owner", "cost-center")


@dataclass(frozen=True)
class Settings:
    """One stack's policy profile, enforcement levels and limits."""

    stack: str = ""
    """The stack's name, as fixes name it (``mlstack promote ... --to <stack>``)."""
    profile: str = "standard"
    """``prod`` holds the stack to the production policies too."""
    enforcement: Mapping[str, str] = field(default_factory=dict)
    """Level per policy name; ``default`` for every policy not named."""
    max_compute_nodes: int = DEFAULT_MAX_COMPUTE_NODES
    instance_types: tuple[str, ...] = DEFAULT_INSTANCE_TYPES
    required_tags: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    account_key_datastore: bool = False
    """The stack's datastore reads storage with the account key (``datastoreAuth:
    accountKey``), so shared-key access is in use by design."""

    @property
    def prod(self) -> bool:
        return self.profile == "prod"

    def level(self, name: str, *, prod_only: bool) -> str:
        """How a violation of policy ``name`` is enforced on this stack."""
        if prod_only and not self.prod:
            return "disabled"
        return self.enforcement.get(name, self.enforcement.get("default", DEFAULT_LEVEL))

    @classmethod
    def from_config(cls, values: Mapping[str, Any], stack: str = "") -> Settings:
        """From the stack's ``mlstack:`` keys (prefix removed, objects decoded)."""
        profile = values.get("policy")
        limits = _mapping(values.get("policySettings"))
        levels = _mapping(values.get("policyEnforcement"))
        nodes = limits.get("maxComputeNodes")
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 0:
            nodes = DEFAULT_MAX_COMPUTE_NODES
        return cls(
            stack=stack,
            profile=profile if profile in PROFILES else "standard",
            enforcement={str(k): str(v) for k, v in levels.items() if v in LEVELS},
            max_compute_nodes=nodes,
            # An empty allow-list is refused by the program: keep the default meanwhile.
            instance_types=_names(limits.get("instanceTypes"), DEFAULT_INSTANCE_TYPES)
            or DEFAULT_INSTANCE_TYPES,
            required_tags=_names(limits.get("requiredTags"), DEFAULT_REQUIRED_TAGS),
            account_key_datastore=_mapping(values.get("azure")).get("datastoreAuth")
            == "accountKey",
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _names(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    """A list of names as given (possibly empty); ``default`` when absent or not a list."""
    if not is_sequence(value):
        return default
    return tuple(str(item) for item in value)
