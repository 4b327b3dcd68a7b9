"""What every asset provider shares: a resource that tracks one asset's current version.

Inputs are one typed model per kind (:mod:`mlstack.config.resources`) and name their
workspace by a locator, opened here at run time — no path of this machine and no
credential is part of the state. ``diff`` decides on the models alone: new content is an
update that registers the next version (never a replace — earlier versions stay),
metadata changes update the current version in place, only another workspace or name
replaces, and ``delete`` archives every version the resource registered. Subclasses say
how content is registered.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
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
from pydantic import ValidationError

from mlstack.config.assets import asset_name_problem
from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.config.resources import AssetInputs
from mlstack.content.transfer import TransferReport
from mlstack.errors import NotFoundError
from mlstack.workspace import AssetRegistry, Workspace, open_workspace
from mlstack.workspace.asset import AssetVersion

OUTPUT_KEYS = ("version", "uri", "registered", "archived", "transfer")


def _version_order(version: str) -> tuple[int, str]:
    """Numbers in numeric order, then pinned names such as ``v2``."""
    return (int(version), "") if version.isdigit() else (1 << 62, version)


def resource_id(locator: LocalLocator | AzureLocator, kind: str, name: str) -> str:
    """Unique per workspace: the stack locally, the workspace's ARM id on Azure."""
    where = locator.stack if isinstance(locator, LocalLocator) else locator.workspace_id
    return f"{where}/{kind}/{name}"


def property_path(loc: tuple[int | str, ...], news: Mapping[str, Any]) -> str:
    """The input property a validation error is about, as Pulumi names it.

    Pydantic's ``loc`` also names the member of a tagged union it tried (``workspace.local.
    stack``); that is no property of the inputs, so parts ``news`` does not hold are left
    out, but for the last (a missing property is named).
    """
    path: list[str] = []
    value: Any = news
    for i, part in enumerate(loc):
        held = (isinstance(value, Mapping) and part in value) or (
            isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        )
        if held:
            value = value[part]
        elif i < len(loc) - 1:
            continue
        path.append(str(part))
    return ".".join(path) or "inputs"


def check_failures(
    model: type[Any], news: dict[str, Any]
) -> tuple[dict[str, Any], list[CheckFailure]]:
    """``news`` normalised by ``model``, or the failures naming each bad property."""
    try:
        return model.parse(news).to_props(), []
    except ValidationError as error:
        failures = [
            CheckFailure(property_path(item["loc"], news),
                         item["msg"].removeprefix("Value error, "))
            for item in error.errors()
        ]  # fmt: skip
        return news, failures


class AssetProvider(ResourceProvider):
    """CRUD for the current version of one asset; ``inputs`` is its typed model."""

    inputs: ClassVar[type[AssetInputs]]

    def parse(self, props: dict[str, Any]) -> Any:
        return self.inputs.parse(props)

    def registry(self, ws: Workspace) -> AssetRegistry:
        return ws.registry(self.inputs.kind)

    def register(self, inputs: Any, registered: list[str]) -> dict[str, Any]:
        """Store the content if it has any, register it; return the resource's outputs."""
        raise NotImplementedError

    def outputs(
        self,
        inputs: AssetInputs,
        found: AssetVersion,
        registered: list[str],
        transfer: TransferReport | None = None,
    ) -> dict[str, Any]:
        """The inputs plus what the workspace reports, and what the last transfer moved.

        A transfer is also told as one line on stderr, which the engine shows in
        ``pulumi up``'s output as it comes.
        """
        if transfer is not None:
            print(f"{inputs.kind} {inputs.name}: version {found.version}: {transfer}",
                  file=sys.stderr, flush=True)  # fmt: skip
        versions = sorted(set(registered), key=_version_order)
        return {**inputs.to_props(), "version": found.version, "uri": found.uri,
                "archived": found.archived, "registered": versions,
                "transfer": transfer.to_dict() if transfer else None}  # fmt: skip

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = check_failures(self.inputs, news)
        name_problem = asset_name_problem(str(news.get("name", "")))
        if name_problem:
            failures.append(CheckFailure("name", name_problem))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Summaries, counts and properties are derived from the digest, and ``source`` is
        # where content sits on this machine: none of them is a reason to act alone.
        old, new = self.parse(olds), self.parse(news)
        replaces = new.replaces(old)
        changed = new.content_changed(old) or new.metadata_changed(old)
        return DiffResult(changes=bool(replaces or changed or olds.get("archived")),
                          replaces=replaces)  # fmt: skip

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self.parse(props)
        outs = self.register(inputs, [])
        return CreateResult(resource_id(inputs.workspace, inputs.kind, inputs.name), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        inputs = self.parse(props)
        try:
            found = self.registry(open_workspace(inputs.workspace)).get(
                inputs.name, props["version"]
            )
        except NotFoundError:
            return ReadResult("", {})  # gone outside Pulumi: refresh drops it
        metadata = {"description": found.description, "tags": dict(found.tags)}
        if "stage" in inputs.metadata_keys:
            metadata["stage"] = found.stage
        current = inputs.model_copy(update=metadata)
        outs = self.outputs(current, found, list(props.get("registered", [])))
        outs["transfer"] = props.get("transfer")
        return ReadResult(id_, outs, current.to_props())

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old, new = self.parse(olds), self.parse(news)
        registered = list(olds.get("registered", []))
        if new.content_changed(old) or olds.get("archived"):
            return UpdateResult(self.register(new, registered))
        found = self.registry(open_workspace(new.workspace)).update(
            new.name, olds["version"], new.description, new.tags, getattr(new, "stage", "")
        )
        return UpdateResult(self.outputs(new, found, registered))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Archive every version this resource registered; content stays in the datastore."""
        inputs = self.parse(props)
        try:
            registry = self.registry(open_workspace(inputs.workspace))
        except NotFoundError:
            return  # the workspace is gone, and its versions with it
        for version in props.get("registered", []):
            try:
                registry.set_archived(inputs.name, version, True)
            except NotFoundError:
                continue  # already gone with its workspace


class ReferencedAssetProvider(AssetProvider):
    """An asset that jobs and deployments name as ``azureml:<name>:<version>`` (environments,
    components): that reference is an output too."""

    def outputs(
        self,
        inputs: AssetInputs,
        found: AssetVersion,
        registered: list[str],
        transfer: TransferReport | None = None,
    ) -> dict[str, Any]:
        outs = super().outputs(inputs, found, registered, transfer)
        outs["reference"] = f"azureml:{found.name}:{found.version}"
        return outs
