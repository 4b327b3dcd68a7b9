"""A stack's guardrails: the ``mlstack:policy*`` keys the policy pack in ``policy/`` reads.

    mlstack:policy: prod                  # standard (default) | prod
    mlstack:policyEnforcement:            # mandatory | advisory | disabled
      default: mandatory                  # every policy not named (default: mandatory)
      compute-max-nodes: advisory
    mlstack:policySettings:
      maxComputeNodes: 4
      instanceTypes: [Standard_DS2_v2, Standard_DS3_v2, Standard_DS4_v2]
      requiredTags: [owner, cost-center]

The pack runs in its own environment and reads these keys itself; they are validated here,
with the rest of the stack's config, so a misspelt policy name or level fails the preview
with the file and key instead of silently enforcing something else. The policy names and
defaults mirror the pack's (``policy/mlstack_policy``); a unit test keeps them equal.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "DEFAULT_INSTANCE_TYPES",
    "POLICY_NAMES",
    "PROD_POLICIES",
    "Enforcement",
    "PolicySettings",
    "Profile",
    "enforcement_problem",
]

PROD_POLICIES = (
    "models-by-promotion", "model-lineage", "model-gates", "no-public-network",
    "endpoint-auth", "storage-no-shared-key", "protect-stateful",
)  # fmt: skip
"""Policies that apply only to stacks with ``mlstack:policy: prod``."""
POLICY_NAMES = (
    *PROD_POLICIES,
    "compute-scale-to-zero", "compute-max-nodes", "instance-types",
    "data-versions-archive-only", "required-tags",
)  # fmt: skip
"""Every policy of the pack, as ``mlstack:policyEnforcement`` names them."""
DEFAULT_INSTANCE_TYPES = ("Standard_DS2_v2", "Standard_DS3_v2", "Standard_DS4_v2")

Profile = Literal["standard", "prod"]
Enforcement = Literal["mandatory", "advisory", "disabled"]


class PolicySettings(BaseModel):
    """``mlstack:policySettings``: the limits the pack's every-stack policies check."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    max_compute_nodes: int = Field(default=4, ge=0)
    """compute-max-nodes: the most nodes a compute cluster may scale to."""
    instance_types: tuple[str, ...] = Field(default=DEFAULT_INSTANCE_TYPES, min_length=1)
    """instance-types: the VM sizes compute and deployments may use."""
    required_tags: tuple[str, ...] = ("owner", "cost-center")
    """required-tags: tags every resource that takes tags must carry (``mlstack:tags``)."""

    @field_validator("instance_types", "required_tags")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        blank = [v for v in value if not v.strip()]
        if blank:
            raise ValueError("names must not be empty")
        return value


def enforcement_problem(levels: dict[str, str]) -> str | None:
    """None unless ``mlstack:policyEnforcement`` names a policy the pack does not have."""
    unknown = sorted(set(levels) - {"default", *POLICY_NAMES})
    if not unknown:
        return None
    return (
        f"unknown polic{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}: name "
        f"`default` or one of {', '.join(POLICY_NAMES)}"
    )
