"""The rules as pulumi_policy policies, with the stack's enforcement levels, served.

The pack starts after the engine has sent the stack's configuration (the python-policy
runtime waits for it), so each policy's enforcement level is decided here, once, from the
stack's ``mlstack:policy*`` keys: production rules are disabled on other stacks, and
``mlstack:policyEnforcement`` sets the rest. A ``--policy-pack-config`` file, if one is
given, still overrides them, as it does for any pack.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from mlstack_policy.catalog import RULES
from mlstack_policy.resource import Resource
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

NAMESPACE = "mlstack"
PACK = "mlstack"
_OBJECTS = ("policyEnforcement", "policySettings", "azure")


def stack_settings() -> Settings:
    """The settings of the stack being previewed, from its config (none: the defaults)."""
    config = pulumi.Config(NAMESPACE)
    values: dict[str, Any] = {"policy": config.get("policy")}
    for key in _OBJECTS:
        try:
            values[key] = config.get_object(key)
        except Exception:  # malformed JSON: the program reports it, naming the key
            values[key] = None
    return Settings.from_config(values, stack=pulumi.get_stack())


def as_resource(args: ResourceValidationArgs) -> Resource:
    return Resource(
        type=args.resource_type, name=args.name, props=args.props,
        protect=bool(args.opts.protect), urn=args.urn,
    )  # fmt: skip


def policy(rule: Rule, settings: Settings) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = as_resource(args)
        for message in rule.violations(resource, settings):
            report(message, args.urn)

    level = settings.level(rule.name, prod_only=rule.prod_only)
    return ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validate,
        enforcement_level=EnforcementLevel(level),
    )  # fmt: skip


def main() -> None:
    """Serve the pack until the engine stops it."""
    settings = stack_settings()
    PolicyPack(
        name=PACK,
        policies=[policy(rule, settings) for rule in RULES],
        enforcement_level=EnforcementLevel.MANDATORY,
    )
