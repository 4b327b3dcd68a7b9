"""Read access on a promotion's source storage account, for whoever runs prod's ``pulumi up``.

A promotion between Azure workspaces copies blobs from the source stack's storage account
into this stack's with a user-delegation SAS (``content/signature.py``): the deployer must
be allowed to ask the source account for a delegation key (*Storage Blob Delegator*) and
to read its blobs (*Storage Blob Data Reader*). A create-mode source stack names its
account, so this stack grants both there, scoped to that one account, before any promoted
version is copied. An attached source does not say where its account lives: those roles
are granted by hand (docs/azure.md, "Promotion").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

from mlstack.config.azure import AzureSettings

__all__ = ["BLOB_DATA_READER", "BLOB_DELEGATOR", "SourceAccount", "grant_source_access"]

BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
"""The built-in role *Storage Blob Data Reader* (read and list blobs)."""
BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
"""The built-in role *Storage Blob Delegator* (get a user delegation key for a SAS)."""


@dataclass(frozen=True)
class SourceAccount:
    """The storage account of a create-mode stack this stack promotes from."""

    stack: str
    subscription_id: str
    resource_group: str
    account: str

    @classmethod
    def of(cls, stack: str, settings: AzureSettings) -> SourceAccount:
        return cls(stack, settings.subscription_id, settings.resource_group,
                   settings.storage_account)  # fmt: skip

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{self.account}"
        )


def grant_source_access(
    prefix: str, principal_id: pulumi.Input[str], sources: Iterable[SourceAccount],
    parent: pulumi.Resource,
) -> list[authorization.RoleAssignment]:  # fmt: skip
    """Both roles on each distinct source account, for ``principal_id`` (the deployer)."""
    granted: list[authorization.RoleAssignment] = []
    for source in sorted(set(sources), key=lambda s: s.stack):
        for role, suffix in ((BLOB_DATA_READER, "blob-reader"), (BLOB_DELEGATOR, "delegator")):
            granted.append(authorization.RoleAssignment(
                f"{prefix}-source-{source.stack}-{suffix}",
                principal_id=principal_id,
                role_definition_id=(
                    f"/subscriptions/{source.subscription_id}/providers/"
                    f"Microsoft.Authorization/roleDefinitions/{role}"
                ),
                scope=source.id,
                opts=pulumi.ResourceOptions(parent=parent),
            ))  # fmt: skip
    return granted
