"""The ``ComponentVersion`` dynamic resource: a command component, versioned by content.

The digest covers the parsed spec and the code folder's manifest, so reformatting the
YAML never makes a new version while a changed command, input or code file does. The
code folder is stored in the datastore like a data folder (only what it lacks is sent),
and the version records the canonical spec as an immutable property.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from mlstack.config.resources import ComponentInputs
from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.scan import scan
from mlstack.errors import WorkspaceError
from mlstack.project import Project
from mlstack.providers.asset import OUTPUT_KEYS, ReferencedAssetProvider
from mlstack.workspace import open_workspace, register_folder


class ComponentVersionProvider(ReferencedAssetProvider):
    """CRUD for the current version of one component."""

    inputs = ComponentInputs

    def register(self, inputs: ComponentInputs, registered: list[str]) -> dict[str, Any]:
        """Store the code folder, verify it, then register spec and code as a version."""
        root = Path(inputs.source)
        with SqliteHashCache.in_home(Project.find().home) as cache:
            manifest = scan(root, cache)
        if manifest.digest != inputs.code_digest:
            raise WorkspaceError(
                f"component {inputs.name}: {root} changed since this run's preview "
                f"({inputs.code_digest} → {manifest.digest}): run `pulumi up` again to review it"
            )
        done = register_folder(
            open_workspace(inputs.workspace), "component", inputs.name, root, manifest,
            type_=str(inputs.spec.get("type", "command")),
            properties={"spec": inputs.spec, "code_digest": manifest.digest},
            description=inputs.description, tags=inputs.tags,
            version=inputs.version_pin or None, progress=True, digest=inputs.digest,
        )  # fmt: skip
        return self.outputs(inputs, done.version, [*registered, done.version.version],
                            done.transfer)  # fmt: skip


class ComponentVersion(Resource, module="mlstack", name="ComponentVersion"):
    """A component whose version follows its parsed spec and its code folder."""

    version: pulumi.Output[str]
    reference: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        inputs: ComponentInputs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {**inputs.to_props(), **dict.fromkeys(OUTPUT_KEYS), "reference": None}
        super().__init__(ComponentVersionProvider(), resource_name, props, opts)
