"""Promoted versions: an asset version copied from another stack's workspace into this one.

``mlstack promote`` pins (source stack, version, digest) in the target stack's config; this
provider re-checks the pin against the source at ``pulumi up`` — missing, archived or
different content is refused and nothing is registered — then copies the content
server-side between the two datastores, verifies it, and registers it with properties that
name where it came from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import Resource

from mlstack.content.transfer import upload
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.providers.asset import OUTPUT_KEYS, AssetProvider, workspace
from mlstack.workspace.asset import AssetVersion, datastore_uri, upload_prefix
from mlstack.workspace.local import LocalWorkspace


def source_version(
    home: Path, kind: str, name: str, *, source_stack: str, version: str, digest: str
) -> tuple[LocalWorkspace, AssetVersion]:
    """The pinned source version, or an error saying why it cannot be promoted."""
    source = LocalWorkspace.open(home, source_stack)
    registry = {"data": source.data, "model": source.models}[kind]
    where = f"{kind} {name}:{version} of stack {source_stack!r}"
    try:
        found = registry.get(name, version)
    except NotFoundError:
        raise WorkspaceError(f"{where} does not exist: promote a version that does") from None
    if found.archived:
        raise WorkspaceError(f"{where} is archived: restore it there, or promote another version")
    if found.digest != digest:
        raise WorkspaceError(
            f"{where} holds {found.digest}, but the promotion pins {digest}: the pin was "
            "edited or the source changed; run `mlstack promote` again and review the diff"
        )
    return source, found


class PromotedAssetProvider(AssetProvider):
    """The current promoted version of one asset."""

    required: ClassVar[tuple[str, ...]] = (
        *AssetProvider.required, "source_stack", "source_version",
    )  # fmt: skip
    content_keys: ClassVar[tuple[str, ...]] = (
        *AssetProvider.content_keys, "source_stack", "source_version",
    )  # fmt: skip

    def register(self, props: dict[str, Any], registered: list[str]) -> dict[str, Any]:
        name, home = props["name"], Path(props["home"])
        source, found = source_version(
            home, self.kind, name, source_stack=props["source_stack"],
            version=props["source_version"], digest=props["digest"],
        )  # fmt: skip
        source_registry = self.registry(source)
        manifest = source_registry.manifest(name, found.version)
        prefix = upload_prefix(found.digest, name)
        known = {e.sha256: f"/{source.container}/{prefix}/{e.path}" for e in manifest.entries}
        ws = workspace(props)
        # Every file is known in the source datastore: nothing is read from this machine.
        upload(home / "promotion-has-no-local-files", manifest, ws.endpoint, ws.container,
               prefix, known, progress=False)  # fmt: skip
        promotion = {
            "source_stack": props["source_stack"],
            "source_workspace": str(source.catalog.path),
            "source_container": source.container,
            "source_version": found.version,
            "digest": found.digest,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        registered_version, _ = self.registry(ws).register(
            name, type_=found.type, uri=datastore_uri(prefix), digest=found.digest,
            manifest=manifest, properties={**found.properties, "promotion": promotion},
            description=props["description"], tags=props["tags"], stage=props.get("stage", ""),
        )  # fmt: skip
        return self.outputs(props, registered_version, [*registered, registered_version.version])


class PromotedModelProvider(PromotedAssetProvider):
    kind = "model"


class PromotedDataProvider(PromotedAssetProvider):
    kind = "data"


class PromotedModel(Resource, module="mlstack", name="PromotedModel"):
    """A model version promoted into this stack from another."""

    version: pulumi.Output[str]
    uri: pulumi.Output[str]
    digest: pulumi.Output[str]
    metrics_change: pulumi.Output[str]

    def __init__(
        self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        outputs = dict.fromkeys(OUTPUT_KEYS)
        super().__init__(PromotedModelProvider(), resource_name, {**props, **outputs}, opts)


class PromotedData(Resource, module="mlstack", name="PromotedData"):
    """A data asset version promoted into this stack from another."""

    version: pulumi.Output[str]
    uri: pulumi.Output[str]
    digest: pulumi.Output[str]
    files: pulumi.Output[int]

    def __init__(
        self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        outputs = dict.fromkeys(OUTPUT_KEYS)
        super().__init__(PromotedDataProvider(), resource_name, {**props, **outputs}, opts)
