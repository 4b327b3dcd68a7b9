"""Folder assets — data and model versions: a folder registered as versioned content.

``create``/``update`` re-scan the folder (stat-cached), refuse one that changed since the
preview, transfer what the datastore lacks, verify, and only then register — a crash
anywhere leaves no version or a complete one. Subclasses may refuse a folder outright.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.scan import scan
from mlstack.content.transfer import upload
from mlstack.errors import WorkspaceError
from mlstack.providers.asset import AssetProvider, workspace
from mlstack.workspace.asset import datastore_uri, upload_prefix


class FolderAssetProvider(AssetProvider):
    """An asset whose content is a folder, stored in the workspace's datastore."""

    required: ClassVar[tuple[str, ...]] = (*AssetProvider.required, "source", "type")
    content_keys: ClassVar[tuple[str, ...]] = (*AssetProvider.content_keys, "type")

    def properties(self, root: Path, props: dict[str, Any]) -> dict[str, Any] | None:
        """The version's immutable properties, read from the folder itself; may refuse it.

        Read here rather than taken from the inputs: the engine carries numbers as
        doubles, and what is registered must be exactly what the folder holds.
        """
        return None

    def register(self, props: dict[str, Any], registered: list[str]) -> dict[str, Any]:
        """Transfer the folder's content, verify it, then register it as a version."""
        ws = workspace(props)
        root = Path(props["source"])
        properties = self.properties(root, props)
        with SqliteHashCache.in_home(Path(props["home"])) as cache:
            manifest = scan(root, cache)
        if manifest.digest != props["digest"]:
            raise WorkspaceError(
                f"{self.kind} {props['name']}: {root} changed since this run's preview "
                f"({props['digest']} → {manifest.digest}): run `pulumi up` again to review it"
            )
        prefix = upload_prefix(manifest.digest, props["name"])
        known = ws.stored_content()
        upload(root, manifest, ws.endpoint, ws.container, prefix, known, progress=False)
        found, _ = self.registry(ws).register(
            props["name"], type_=props["type"], uri=datastore_uri(prefix),
            digest=manifest.digest, manifest=manifest, properties=properties,
            description=props["description"], tags=props["tags"],
            stage=props.get("stage", ""), version=props["version_pin"] or None,
        )  # fmt: skip
        return self.outputs(props, found, [*registered, found.version])
