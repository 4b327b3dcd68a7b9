"""A policy as mlstack writes it: a name, what it asks for, and a pure check.

A check reads one :class:`~mlstack_policy.resource.Resource` and the stack's
:class:`~mlstack_policy.settings.Settings` and yields one message per violation; each
message names the resource, says what is wrong and how to fix it. Checks import nothing
from Pulumi, so they are tested with plain inputs; :mod:`mlstack_policy.pack` turns rules
into CrossGuard policies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mlstack_policy.resource import Resource
from mlstack_policy.settings import Settings

Check = Callable[[Resource, Settings], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    """One policy of the pack."""

    name: str
    """The policy's id, as ``mlstack:policyEnforcement`` and the preview name it."""
    description: str
    """The rule in one sentence."""
    check: Check
    prod_only: bool = False
    """Applies only to stacks with ``mlstack:policy: prod``."""

    def violations(self, resource: Resource, settings: Settings) -> list[str]:
        return list(self.check(resource, settings))
