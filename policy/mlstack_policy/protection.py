"""protect-stateful: a production stack protects what holds data, models or secrets.

Deleting (or replacing) the ML workspace, an ML registry, the storage account or the key
vault loses what they hold: versions, content, secrets. ``protect`` makes ``pulumi destroy``
and a replacing ``pulumi up`` refuse. A local stack's workspace is an emulator on one
machine (``make clean`` removes it) and is not held to this.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlstack_policy.resource import KEY_VAULT, ML_REGISTRY, ML_WORKSPACE, STORAGE_ACCOUNT, Resource
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

STATEFUL = frozenset({ML_WORKSPACE, ML_REGISTRY, STORAGE_ACCOUNT, KEY_VAULT})


def check(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type in STATEFUL and not resource.protect:
        yield (
            f"{resource.label} is not protected, so `pulumi destroy` or a replacement would "
            "delete it with everything it holds. Fix: set `protect: true` under "
            "`mlstack:azure` in the stack file (the program protects the workspace, storage "
            "account and key vault)."
        )


RULE = Rule(
    "protect-stateful",
    "Stateful resources of a production stack (workspace, registry, storage, key vault) "
    "are protected.",
    check,
    prod_only=True,
)
