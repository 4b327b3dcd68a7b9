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


PLACEHOLDER_GUID = "00000000-0000-0000-0000-000000000000"

_PLACEHOLDER = re.compile(r"^<.*>$|^(?:changeme|change-me|todo|fill-?me)$", re.IGNORECASE)
AZURE_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    # Microsoft.Resources/resourceGroups: 1-90 of letters, digits, '_', '-', '.', '(', ')'
    # (Unicode letters too; ASCII here), not ending with '.'.
    "resource_group": (
        re.compile(r"^[-\w.()]{0,89}[-\w()]$", re.ASCII),
        "1-90 letters, digits, '_', '-', '.', '(' or ')', not ending with '.'",
    ),
    "location": (
        re.compile(r"^[a-z][a-z0-9]{1,39}$"),
        "an Azure region name in lowercase without spaces, such as westeurope or eastus2 "
        "(`az account list-locations -o table` lists them)",
    ),
    # Microsoft.MachineLearningServices/workspaces: 3-33, alphanumerics, '_' and '-',
    # starting with a letter or digit.
    "workspace_name": (
        re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"),
        "3-33 letters, digits, '-' or '_', starting with a letter or digit",
    ),
    # Microsoft.Storage/storageAccounts: 3-24 lowercase letters and digits, globally unique.
    "storage_account": (
        re.compile(r"^[a-z0-9]{3,24}$"),
        "3-24 lowercase letters and digits only (globally unique across Azure)",
    ),
    # Microsoft.KeyVault/vaults: 3-24 of alphanumerics and hyphens, starting with a letter,
    # ending with a letter or digit, no consecutive hyphens; globally unique.
    "key_vault": (
        re.compile(r"^[a-zA-Z](?:[a-zA-Z0-9]|-(?=[a-zA-Z0-9])){1,22}[a-zA-Z0-9]$"),
        "3-24 letters, digits and single hyphens, starting with a letter and ending with a "
        "letter or digit (globally unique across Azure)",
    ),
    # Microsoft.ContainerRegistry/registries: 5-50 alphanumerics, globally unique.
    "container_registry": (
        re.compile(r"^[a-zA-Z0-9]{5,50}$"),
        "5-50 letters and digits only (globally unique across Azure)",
    ),
    # Microsoft.MachineLearningServices datastores: letters, digits and underscores.
    "datastore_name": (
        re.compile(r"^[a-zA-Z0-9_]{1,255}$"),
        "1-255 letters, digits or '_'",
    ),
}
_ENDPOINT = re.compile(r"^[a-zA-Z](?:[a-zA-Z0-9-]{1,30})[a-zA-Z0-9]$")


def endpoint_name_problem(name: str) -> str | None:
    """Online endpoint names: 3-32 letters, digits, '-', starting with a letter."""
    if _ENDPOINT.fullmatch(name):
        return None
    return (
        f"{name!r} is not a valid online endpoint name: use 3-32 letters, digits and '-', "
        "starting with a letter and ending with a letter or digit"
    )


def placeholder_problem(value: str) -> str | None:
    """None unless ``value`` is a placeholder left from the shipped stack file."""
    if value == PLACEHOLDER_GUID or _PLACEHOLDER.match(value.strip()):
        return f"still the placeholder {value!r}: replace it with your own value"
    return None
