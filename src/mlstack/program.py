"""The Pulumi program: read and validate config, then build the stack's target.

Invalid configuration stops the run with every problem listed and nothing declared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG

from mlstack.components.local_platform import LocalPlatform
from mlstack.config.assets import DataSpec, load_data_specs
from mlstack.config.stack import NAMESPACE, StackConfig, load_stack_config
from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.manifest import Manifest
from mlstack.content.scan import scan
from mlstack.errors import ConfigError, MlstackError, NotFoundError, Problem
from mlstack.project import Project
from mlstack.providers.data_asset import DataAsset
from mlstack.services.azurite import Azurite
from mlstack.workspace.local import LocalWorkspace


def _namespace_values() -> dict[str, Any]:
    """All ``mlstack:*`` keys of the stack, with structured values decoded."""
    values: dict[str, Any] = {}
    for key, raw in CONFIG.get().items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue
        values[name] = json.loads(raw) if raw.startswith(("{", "[")) else raw
    return values


def scan_data(specs: tuple[DataSpec, ...], home: Path) -> dict[str, Manifest]:
    """Each asset's manifest (stat-cached); every folder's problems reported together."""
    manifests: dict[str, Manifest] = {}
    problems: list[Problem] = []
    with SqliteHashCache.in_home(home) as cache:
        for spec in specs:
            try:
                manifests[spec.name] = scan(spec.path, cache)
            except ConfigError as error:
                problems += [Problem(str(spec.file), f"path ({p.file})", p.reason)
                             for p in error.problems]  # fmt: skip
    if problems:
        raise ConfigError(problems)
    return manifests


def change_summary(workspace: LocalWorkspace, name: str, manifest: Manifest) -> str:
    """How ``manifest`` differs from the latest registered version, for the preview."""
    try:
        latest = workspace.get_data(name)
    except NotFoundError:
        return str(manifest.changes_since(None))
    if latest.digest == manifest.digest:
        return f"no file changes (version {latest.version})"
    earlier = workspace.data_manifest(name, latest.version)
    return f"{manifest.changes_since(earlier)} since version {latest.version}"


def data_asset_props(
    config: StackConfig, home: Path, spec: DataSpec, manifest: Manifest, changes: str
) -> dict[str, Any]:
    return {
        "stack": config.stack, "home": str(home), "container": config.datastore_container,
        "name": spec.name, "type": spec.type, "source": str(spec.path),
        "digest": manifest.digest, "files": manifest.files, "bytes": manifest.bytes,
        "changes": changes, "description": spec.description, "tags": spec.tags,
        "version_pin": spec.version or "",
    }  # fmt: skip


def build(config: StackConfig, project: Project) -> None:
    """Declare the stack's resources and outputs; all input is validated first."""
    if config.target != "local":
        raise MlstackError(
            f"target {config.target!r} is not available yet in this version of mlstack: "
            "set mlstack:target to 'local'"
        )
    home = project.home
    specs = load_data_specs(project.root)
    manifests = scan_data(specs, home)
    catalog = project.stack_home(config.stack) / "workspace.db"
    reader = LocalWorkspace(catalog, config.datastore_container, Azurite(home).endpoint)

    platform = LocalPlatform("platform", config, home)
    workspace = platform.workspace
    data_opts = pulumi.ResourceOptions(parent=platform, depends_on=[workspace])
    data = {}
    for spec in specs:
        manifest = manifests[spec.name]
        changes = change_summary(reader, spec.name, manifest)
        props = data_asset_props(config, home, spec, manifest, changes)
        data[spec.name] = DataAsset(f"data-{spec.name}", props, data_opts)
    pulumi.export("target", config.target)
    pulumi.export("workspace", workspace.name)
    pulumi.export("datastore", workspace.datastore)
    pulumi.export("datastore_uri", workspace.datastore_uri)
    pulumi.export("container", workspace.container)
    pulumi.export("catalog", workspace.catalog)
    pulumi.export(
        "data",
        {name: {"version": a.version, "uri": a.uri, "digest": a.digest, "files": a.files}
         for name, a in data.items()},
    )  # fmt: skip


def main() -> None:
    """Entry point run by the Pulumi language host (see ``__main__.py``)."""
    try:
        config = load_stack_config(pulumi.get_stack(), _namespace_values())
        build(config, Project.find())
    except MlstackError as error:
        # RunError is reported as a plain message: the user sees the problem, no traceback.
        raise pulumi.RunError(str(error)) from None
