"""Which source serves a promotion between two stacks, and why other pairs are refused.

    from \\ into   local                          azure
    local         WorkspaceSource                refused: Azure cannot copy from this machine
    azure         refused: no copy out of Azure  WorkspaceSource (workspace → workspace)

Both routes read the source version through the workspace protocol
(:class:`~mlstack.promotion.source.WorkspaceSource`); the target's ``pulumi up`` then copies
the content server-side, within one storage account or across two with a short-lived SAS
(:func:`mlstack.workspace.register_copy`). The Azure ML registry route (``--via registry``)
is another :class:`~mlstack.promotion.source.PromotionSource`, returned from here.

``--via registry`` (azure → azure) is :func:`registry_source_for`: the version is shared
into the target's Azure ML registry (:mod:`mlstack.promotion.registry`).
"""

from __future__ import annotations

from mlstack.errors import PromotionError
from mlstack.promotion.registry import RegistrySource, registry_of
from mlstack.promotion.source import PromotionSource, WorkspaceSource
from mlstack.stack import Stack

__all__ = ["registry_source_for", "source_for"]


def source_for(source: Stack, target: Stack) -> PromotionSource:
    """The source to promote from ``source`` into ``target``, or why there is none."""
    pair = (source.config.target, target.config.target)
    if pair == ("local", "azure"):
        raise PromotionError(
            source.name, target.name, f"stack {source.name!r} is local: its content lives in "
            f"Azurite on this machine, which Azure cannot copy from. Promote into "
            f"{target.name!r} from an azure stack (e.g. `--from dev`), or into a local stack",
        )  # fmt: skip
    if pair == ("azure", "local"):
        raise PromotionError(
            source.name, target.name, f"stack {target.name!r} is local and {source.name!r} is "
            "on Azure: mlstack does not copy Azure content onto this machine; promote between "
            "local stacks, or into an azure stack",
        )  # fmt: skip
    return WorkspaceSource(source, target.name)


def registry_source_for(source: Stack, target: Stack) -> RegistrySource:
    """``--via registry``: an azure source shared into the target's Azure ML registry."""
    return RegistrySource(source, target, registry_of(source, target))
