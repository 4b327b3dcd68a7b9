"""Folder assets — data and model versions: a folder registered as versioned content.

``create``/``update`` re-scan the folder (stat-cached), refuse one that changed since the
preview, then :func:`mlstack.workspace.register_folder` transfers what the datastore
lacks, verifies, and only then registers — a crash anywhere leaves no version or a
complete one. Subclasses may refuse a folder outright.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlstack.config.resources import FolderInputs
from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.scan import scan
from mlstack.errors import WorkspaceError
from mlstack.project import Project
from mlstack.providers.asset import AssetProvider
from mlstack.workspace import open_workspace, register_folder


class FolderAssetProvider(AssetProvider):
    """An asset whose content is a folder, stored in the workspace's datastore."""

    def properties(self, root: Path, inputs: Any) -> dict[str, Any] | None:
        """The version's immutable properties, read from the folder itself; may refuse it.

        Read here rather than taken from the inputs: the engine carries numbers as
        doubles, and what is registered must be exactly what the folder holds.
        """
        return None

    def register(self, inputs: FolderInputs, registered: list[str]) -> dict[str, Any]:
        """Transfer the folder's content, verify it, then register it as a version."""
        ws = open_workspace(inputs.workspace)
        root = Path(inputs.source)
        properties = self.properties(root, inputs)
        with SqliteHashCache.in_home(Project.find().home) as cache:
            manifest = scan(root, cache)
        if manifest.digest != inputs.digest:
            raise WorkspaceError(
                f"{inputs.kind} {inputs.name}: {root} changed since this run's preview "
                f"({inputs.digest} → {manifest.digest}): run `pulumi up` again to review it"
            )
        done = register_folder(
            ws, inputs.kind, inputs.name, root, manifest, type_=inputs.type,
            properties=properties, description=inputs.description, tags=inputs.tags,
            stage=getattr(inputs, "stage", ""), version=inputs.version_pin or None,
            progress=True,
        )  # fmt: skip
        return self.outputs(inputs, done.version, [*registered, done.version.version],
                            done.transfer)  # fmt: skip
