"""no-public-network: a production estate is reachable only over private networks.

Checked on what holds or serves the models: the ML workspace, its storage account and key
vault (``publicNetworkAccess``; the vault's sits under ``properties``) and online endpoints
(``properties.publicNetworkAccess``). Absent means Azure's default, which is public.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlstack_policy.resource import (
    KEY_VAULT,
    ML_WORKSPACE,
    ONLINE_ENDPOINT,
    STORAGE_ACCOUNT,
    Resource,
    same,
)
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

# Where each type declares it, and the stack setting the program derives it from.
WHERE = {
    ML_WORKSPACE: ("publicNetworkAccess",),
    STORAGE_ACCOUNT: ("publicNetworkAccess",),
    KEY_VAULT: ("properties", "publicNetworkAccess"),
    ONLINE_ENDPOINT: ("properties", "publicNetworkAccess"),
}
FIX = (
    "Fix: set `publicNetworkAccess: Disabled` under `mlstack:azure` in the stack file (the "
    "program then disables it on the workspace, storage, key vault and endpoints) and reach "
    "them through private endpoints."
)


def check(resource: Resource, _settings: Settings) -> Iterator[str]:
    path = WHERE.get(resource.type)
    if path is None:
        return
    value = resource.get(*path)
    if not same(value, "Disabled"):
        shown = "not set (Azure's default: Enabled)" if value is None else repr(value)
        yield f"{resource.label} allows public network access ({'.'.join(path)} is {shown}). {FIX}"


RULE = Rule(
    "no-public-network",
    "The workspace, storage, key vault and endpoints of a production stack accept no "
    "public network access.",
    check,
    prod_only=True,
)
