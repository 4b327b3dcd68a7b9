"""storage-no-shared-key: where identities read the storage, its account keys are off.

With an identity-based datastore (``mlstack:azure.datastoreAuth: identity``, the default)
the workspace and mlstack's providers reach blobs with Entra ID identities, so an account
key is only a standing credential to leak: ``allowSharedKeyAccess`` must be ``false``.
A stack that chose ``datastoreAuth: accountKey`` uses the key by design and is not held to
this.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlstack_policy.resource import STORAGE_ACCOUNT, Resource
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings


def check(resource: Resource, settings: Settings) -> Iterator[str]:
    if resource.type != STORAGE_ACCOUNT or settings.account_key_datastore:
        return
    value = resource.get("allowSharedKeyAccess")
    if value is False:
        return
    shown = "not set (Azure's default: true)" if value is None else repr(value)
    yield (
        f"{resource.label} allows shared-key access (allowSharedKeyAccess is {shown}) although "
        "this stack reads its storage with identities. Fix: set `allowSharedKeyAccess: false` "
        "on the account; if something must use the key, say so with `datastoreAuth: "
        "accountKey` under `mlstack:azure`."
    )


RULE = Rule(
    "storage-no-shared-key",
    "Storage accounts read through identities do not allow shared-key (account key) access.",
    check,
    prod_only=True,
)
