"""Every rule of the pack, production rules first, in the order a preview reports them."""

from __future__ import annotations

from mlstack_policy import (
    compute,
    data_retention,
    endpoint_auth,
    gates,
    instance_types,
    lineage,
    network,
    promotion,
    protection,
    shared_keys,
    tags,
)
from mlstack_policy.rule import Rule

RULES: tuple[Rule, ...] = (
    # stacks with `mlstack:policy: prod`
    promotion.RULE,
    lineage.RULE,
    gates.RULE,
    network.RULE,
    endpoint_auth.RULE,
    shared_keys.RULE,
    protection.RULE,
    # every stack
    compute.SCALE_TO_ZERO,
    compute.MAX_NODES,
    instance_types.RULE,
    data_retention.RULE,
    tags.RULE,
)
NAMES = tuple(rule.name for rule in RULES)
