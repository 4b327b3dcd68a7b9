"""The ``DataAsset`` dynamic resource: a folder registered as versioned data.

The program scans the folder and passes its digest, so ``diff`` decides on digests alone
and preview needs no upload. ``create``/``update`` re-scan (stat-cached), refuse a folder
that changed since the preview, transfer what the datastore lacks, verify, and only then
register — a crash anywhere leaves no version or a complete one. ``delete`` archives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from mlstack.config.assets import asset_name_problem
from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.manifest import DIGEST_PREFIX
from mlstack.content.scan import scan
from mlstack.content.transfer import upload
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.services.azurite import Azurite
from mlstack.workspace.asset import DataVersion, datastore_uri, upload_prefix
from mlstack.workspace.local import LocalWorkspace

REPLACE_KEYS = ("stack", "home", "container", "name")
CONTENT_KEYS = ("digest", "version_pin", "type")
METADATA_KEYS = ("description", "tags")
OUTPUT_KEYS = ("version", "uri", "registered", "archived")


def _workspace(props: dict[str, Any]) -> LocalWorkspace:
    home = Path(props["home"])
    catalog = home / "stacks" / props["stack"] / "workspace.db"
    return LocalWorkspace(catalog, props["container"], Azurite(home).endpoint)


def _outputs(props: dict[str, Any], data: DataVersion, registered: list[str]) -> dict[str, Any]:
    inputs = {k: v for k, v in props.items() if k != "__provider" and k not in OUTPUT_KEYS}
    return {**inputs, "version": data.version, "uri": data.uri, "archived": data.archived,
            "registered": sorted(set(registered), key=int)}  # fmt: skip


def _register(props: dict[str, Any], registered: list[str]) -> dict[str, Any]:
    """Transfer the folder's content, verify it, then register it as a version."""
    ws = _workspace(props)
    root = Path(props["source"])
    with SqliteHashCache.in_home(Path(props["home"])) as cache:
        manifest = scan(root, cache)
    if manifest.digest != props["digest"]:
        raise WorkspaceError(
            f"data asset {props['name']}: {root} changed since this run's preview "
            f"({props['digest']} → {manifest.digest}): run `pulumi up` again to review it"
        )
    prefix = upload_prefix(manifest.digest, props["name"])
    upload(root, manifest, ws.endpoint, ws.container, prefix, ws.stored_content(), progress=False)
    data, _ = ws.register_data(
        props["name"], type_=props["type"], uri=datastore_uri(prefix), manifest=manifest,
        description=props["description"], tags=props["tags"],
        version=props["version_pin"] or None,
    )  # fmt: skip
    return _outputs(props, data, [*registered, data.version])


class DataAssetProvider(ResourceProvider):
    """CRUD for one data asset's current version in a local workspace."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(key, f"{key} is required")
            for key in ("stack", "home", "container", "name", "source", "digest", "type")
            if not isinstance(news.get(key), str) or not news[key]
        ]
        name_problem = asset_name_problem(str(news.get("name", "")))
        if name_problem:
            failures.append(CheckFailure("name", name_problem))
        if not str(news.get("digest", "")).startswith(DIGEST_PREFIX):
            failures.append(CheckFailure("digest", f"must start with {DIGEST_PREFIX}"))
        inputs = {
            **news,
            "description": news.get("description") or "",
            "tags": news.get("tags") or {},
            "version_pin": news.get("version_pin") or "",
        }
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # ``changes``, ``files`` and ``bytes`` describe the digest; ``source`` is where the
        # folder sits on this machine. Neither is a reason to act on its own.
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
        changed = any(olds.get(k) != news.get(k) for k in (*CONTENT_KEYS, *METADATA_KEYS))
        return DiffResult(changes=bool(replaces) or changed or bool(olds.get("archived")),
                          replaces=replaces)  # fmt: skip

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = _register(props, [])
        return CreateResult(f"{props['stack']}/{props['name']}", outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            data = _workspace(props).get_data(props["name"], props["version"])
        except NotFoundError:
            return ReadResult("", {})  # gone outside Pulumi: refresh drops it
        outs = _outputs(props, data, list(props.get("registered", [])))
        outs.update(description=data.description, tags=dict(data.tags))
        inputs = {k: v for k, v in outs.items() if k not in OUTPUT_KEYS}
        return ReadResult(id_, outs, inputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        registered = list(olds.get("registered", []))
        if any(olds.get(k) != news.get(k) for k in CONTENT_KEYS) or olds.get("archived"):
            return UpdateResult(_register(news, registered))
        data = _workspace(news).update_data(
            news["name"], olds["version"], news["description"], news["tags"]
        )
        return UpdateResult(_outputs(news, data, registered))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Archive every version this resource registered; content stays in the datastore."""
        ws = _workspace(props)
        for version in props.get("registered", []):
            try:
                ws.set_data_archived(props["name"], version, True)
            except NotFoundError:
                continue  # already gone with its workspace


class DataAsset(Resource, module="mlstack", name="DataAsset"):
    """A data asset whose version follows its folder's content."""

    version: pulumi.Output[str]
    uri: pulumi.Output[str]
    digest: pulumi.Output[str]
    files: pulumi.Output[int]
    bytes: pulumi.Output[int]
    changes: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            DataAssetProvider(), resource_name, {**props, **dict.fromkeys(OUTPUT_KEYS)}, opts
        )
