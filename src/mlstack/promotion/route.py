"""Which source serves a promotion between two stacks, and why other pairs are refused.

    from \\ into   local                          azure
    local         WorkspaceSource                refused: Azure cannot copy from this machine
    azure         refused: no copy out of Azure  not yet: the Azure workspace source and
                                                 the registry route (issue 13)

``--via registry`` (azure → azure) is :func:`registry_source_for`: the version is shared
into the target's Azure ML registry (:mod:`mlstack.promotion.registry`).

The routes to Azure are the extension points: an Azure workspace source (a version read
through the workspace protocol's Azure backend, copied server-side across storage accounts
by the target's ``pulumi up``) and an Azure ML registry source (``--via registry``). Each implements
:class:`~mlstack.promotion.source.PromotionSource` and is returned from here.
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
    if pair == ("local", "local"):
        return WorkspaceSource(source, target.name)
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
    raise PromotionError(
        source.name, target.name, f"promotion between Azure workspaces ({source.name!r} → "
        f"{target.name!r}) is not built yet: until it is, register the same artefact in "
        f"{target.name!r} (`pulumi up -s {target.name}` with the model's folder), which "
        "re-checks its gates; see docs/azure.md, 'Promotion'",
    )  # fmt: skip


def registry_source_for(source: Stack, target: Stack) -> RegistrySource:
    """``--via registry``: an azure source shared into the target's Azure ML registry."""
    return RegistrySource(source, target, registry_of(source, target))
