"""What every asset provider shares: a resource that tracks one asset's current version.

The program passes a content digest, so ``diff`` decides on digests alone: new content is
an update that registers the next version (never a replace — earlier versions stay),
metadata changes update the current version in place, and ``delete`` archives every
version the resource registered. Subclasses say how content is registered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from mlstack.config.assets import asset_name_problem
from mlstack.content.manifest import DIGEST_PREFIX
from mlstack.errors import NotFoundError
from mlstack.workspace.asset import AssetVersion
from mlstack.workspace.local import LocalWorkspace
from mlstack.workspace.registry import Registry

REPLACE_KEYS = ("stack", "home", "container", "name")
OUTPUT_KEYS = ("version", "uri", "registered", "archived")


def workspace(props: dict[str, Any]) -> LocalWorkspace:
    return LocalWorkspace.at(Path(props["home"]), props["stack"], props["container"])


class AssetProvider(ResourceProvider):
    """CRUD for the current version of one asset of kind ``kind``."""

    kind: ClassVar[str]
    required: ClassVar[tuple[str, ...]] = ("stack", "home", "container", "name", "digest")
    content_keys: ClassVar[tuple[str, ...]] = ("digest", "version_pin")
    metadata_keys: ClassVar[tuple[str, ...]] = ("description", "tags", "stage")

    def registry(self, ws: LocalWorkspace) -> Registry:
        return {"data": ws.data, "model": ws.models, "environment": ws.environments}[self.kind]

    def register(self, props: dict[str, Any], registered: list[str]) -> dict[str, Any]:
        """Store the content if it has any, register it; return the resource's outputs."""
        raise NotImplementedError

    def outputs(
        self, props: dict[str, Any], found: AssetVersion, registered: list[str]
    ) -> dict[str, Any]:
        """The inputs (without outputs of earlier runs) plus what the workspace reports."""
        inputs = {k: v for k, v in props.items() if k != "__provider" and k not in OUTPUT_KEYS}
        return {**inputs, "version": found.version, "uri": found.uri, "archived": found.archived,
                "registered": sorted(set(registered), key=int)}  # fmt: skip

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(key, f"{key} is required")
            for key in self.required
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
            "stage": news.get("stage") or "",
        }
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Summaries, counts and properties are derived from the digest, and ``source`` is
        # where content sits on this machine: none of them is a reason to act alone.
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
        keys = (*self.content_keys, *self.metadata_keys)
        changed = any(olds.get(k, "") != news.get(k, "") for k in keys)
        return DiffResult(changes=bool(replaces) or changed or bool(olds.get("archived")),
                          replaces=replaces)  # fmt: skip

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self.register(props, [])
        return CreateResult(f"{props['stack']}/{self.kind}/{props['name']}", outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            found = self.registry(workspace(props)).get(props["name"], props["version"])
        except NotFoundError:
            return ReadResult("", {})  # gone outside Pulumi: refresh drops it
        outs = self.outputs(props, found, list(props.get("registered", [])))
        outs.update(description=found.description, tags=dict(found.tags), stage=found.stage)
        inputs = {k: v for k, v in outs.items() if k in props and k not in OUTPUT_KEYS}
        return ReadResult(id_, outs, inputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        registered = list(olds.get("registered", []))
        if any(olds.get(k) != news.get(k) for k in self.content_keys) or olds.get("archived"):
            return UpdateResult(self.register(news, registered))
        found = self.registry(workspace(news)).update(
            news["name"], olds["version"], news["description"], news["tags"], news.get("stage", "")
        )
        return UpdateResult(self.outputs(news, found, registered))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Archive every version this resource registered; content stays in the datastore."""
        registry = self.registry(workspace(props))
        for version in props.get("registered", []):
            try:
                registry.set_archived(props["name"], version, True)
            except NotFoundError:
                continue  # already gone with its workspace
