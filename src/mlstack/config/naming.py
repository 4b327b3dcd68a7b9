"""Azure's naming rules, checked before anything is declared.

Each check returns None when the name is valid, else a reason phrased as a fix, so the
same rule serves pydantic validators and provider ``check`` failures.
"""

from __future__ import annotations

import re

NAMESPACE = "mlstack"  # the Pulumi config namespace of mlstack's keys


def stack_file(stack: str) -> str:
    """Where a stack's config lives, as problems name it."""
    return f"stacks/Pulumi.{stack}.yaml"


_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
_STACK = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def container_problem(name: str) -> str | None:
    """Blob container: 3-63 of a-z, 0-9 and single hyphens, starting and ending alphanumeric."""
    if _CONTAINER.fullmatch(name):
        return None
    return (
        f"{name!r} is not a valid blob container name: use 3-63 lowercase letters, digits "
        "and single hyphens, starting and ending with a letter or digit"
    )


def stack_problem(name: str) -> str | None:
    """Pulumi stack names: letters, digits, '-', '_', '.'."""
    if _STACK.fullmatch(name):
        return None
    return f"{name!r} is not a valid stack name: use letters, digits, '-', '_' or '.'"


def container_for_stack(stack: str) -> str:
    """The default datastore container of a stack: ``mlstack-<stack>``, made valid."""
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")
    return f"mlstack-{slug}"[:63].rstrip("-")
