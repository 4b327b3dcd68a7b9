"""Promoted versions: an asset version copied from another stack's workspace into this one.

``mlstack promote`` pins (source stack, version, digest) in the target stack's config; the
program adds the source workspace's locator. This provider re-checks the pin against the
source at ``pulumi up`` — missing, archived or different content is refused and nothing is
registered — then copies the content server-side between the two datastores, across storage
accounts with a short-lived SAS (:func:`mlstack.workspace.register_copy`), verifies it, and
registers it with a ``promotion`` property naming where it came from: the source stack,
workspace (an Azure ML workspace's full ARM resource id), storage account, datastore,
container, version and digest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from mlstack.config.locator import AzureLocator
from mlstack.config.resources import PromotedDataInputs, PromotedInputs, PromotedModelInputs
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.providers.asset import OUTPUT_KEYS, AssetProvider
from mlstack.workspace import Workspace, open_workspace, register_copy
from mlstack.workspace.asset import AssetVersion


def source_version(
    source: Workspace, kind: str, name: str, *, source_stack: str, version: str, digest: str
) -> AssetVersion:
    """The pinned source version, or an error saying why it cannot be promoted."""
    where = f"{kind} {name}:{version} of stack {source_stack!r}"
    try:
        found = source.registry(kind).get(name, version)
    except NotFoundError:
        raise WorkspaceError(f"{where} does not exist: promote a version that does") from None
    if found.archived:
        raise WorkspaceError(f"{where} is archived: restore it there, or promote another version")
    if found.digest != digest:
        raise WorkspaceError(
            f"{where} holds {found.digest}, but the promotion pins {digest}: the pin was "
            "edited or the source changed; run `mlstack promote` again and review the diff"
        )
    return found


def _where(inputs: PromotedInputs) -> str:
    """The source workspace as lineage names it: its ARM id, or the local stack."""
    source = inputs.source_workspace
    if isinstance(source, AzureLocator):
        return source.workspace_id
    return f"local:{source.stack}"


class PromotedAssetProvider(AssetProvider):
    """The current promoted version of one asset."""

    def register(self, inputs: PromotedInputs, registered: list[str]) -> dict[str, Any]:
        source = open_workspace(inputs.source_workspace)
        found = source_version(
            source, inputs.kind, inputs.name, source_stack=inputs.source_stack,
            version=inputs.source_version, digest=inputs.digest,
        )  # fmt: skip
        promotion = {
            "source_stack": inputs.source_stack,
            "source_workspace": _where(inputs),
            "source_container": source.container,
            "source_account": source.endpoint.account,
            "source_datastore": source.datastore,
            "source_version": found.version,
            "digest": found.digest,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        done = register_copy(
            open_workspace(inputs.workspace), source, found,
            properties={**found.properties, "promotion": promotion},
            description=inputs.description, tags=inputs.tags, stage=getattr(inputs, "stage", ""),
        )  # fmt: skip
        return self.outputs(inputs, done.version, [*registered, done.version.version],
                            done.transfer)  # fmt: skip


class PromotedModelProvider(PromotedAssetProvider):
    inputs = PromotedModelInputs


class PromotedDataProvider(PromotedAssetProvider):
    inputs = PromotedDataInputs


class PromotedModel(Resource, module="mlstack", name="PromotedModel"):
    """A model version promoted into this stack from another."""

    version: pulumi.Output[str]
    uri: pulumi.Output[str]
    digest: pulumi.Output[str]
    metrics_change: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        inputs: PromotedModelInputs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {**inputs.to_props(), **dict.fromkeys(OUTPUT_KEYS)}
        super().__init__(PromotedModelProvider(), resource_name, props, opts)


class PromotedData(Resource, module="mlstack", name="PromotedData"):
    """A data asset version promoted into this stack from another."""

    version: pulumi.Output[str]
    uri: pulumi.Output[str]
    digest: pulumi.Output[str]
    files: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        inputs: PromotedDataInputs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {**inputs.to_props(), **dict.fromkeys(OUTPUT_KEYS)}
        super().__init__(PromotedDataProvider(), resource_name, props, opts)
