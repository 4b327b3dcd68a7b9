"""The ``Workspace`` dynamic resource: a local workspace record and its datastore container.

Thin by design: inputs (stack, container, metadata) are validated in ``check`` and
translated into calls on the local backend. The project home and the Azurite endpoint
are found at call time — where this checkout and the emulator are today is machine
state, not desired state, so neither shows as a diff (states that still carry ``home``
upgrade without a replacement).
"""

from __future__ import annotations

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

from mlstack.config.naming import container_problem, stack_problem
from mlstack.errors import NotFoundError
from mlstack.project import Project
from mlstack.workspace.asset import DATASTORE, WorkspaceInfo
from mlstack.workspace.local import catalog_path
from mlstack.workspace.open import open_emulated
from mlstack.workspace.protocol import EmulatedWorkspace

REPLACE_KEYS = ("stack", "container")
UPDATE_KEYS = ("description", "tags")


def _workspace(props: dict[str, Any]) -> EmulatedWorkspace:
    return open_emulated(props["stack"], props["container"])


def _outputs(props: dict[str, Any], info: WorkspaceInfo) -> dict[str, Any]:
    return {
        "stack": props["stack"],
        **info.to_dict(),
        "datastore": DATASTORE,
        "datastore_uri": f"azureml://datastores/{DATASTORE}",
        "catalog": str(catalog_path(Project.find().home, props["stack"])),
    }


class WorkspaceProvider(ResourceProvider):
    """CRUD for a local workspace; every method is safe to repeat after a crash."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        for key in ("stack", "container"):
            if not isinstance(news.get(key), str) or not news[key]:
                failures.append(CheckFailure(key, f"{key} is required and must be a string"))
        if not failures:
            for key, problem in (
                ("stack", stack_problem(news["stack"])),
                ("container", container_problem(news["container"])),
            ):
                if problem:
                    failures.append(CheckFailure(key, problem))
        tags = news.get("tags", {})
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
        ):
            failures.append(CheckFailure("tags", "tags must map strings to strings"))
        inputs = {**news, "description": news.get("description") or "", "tags": tags}
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_KEYS if olds.get(key) != news.get(key)]
        updates = [key for key in UPDATE_KEYS if olds.get(key) != news.get(key)]
        # Same container name on both sides of a replace: delete first, or the delete of
        # the old resource would remove the container the new one just created.
        return DiffResult(
            changes=bool(replaces or updates), replaces=replaces, delete_before_replace=True
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        info = _workspace(props).create(props["stack"], props["description"], props["tags"])
        return CreateResult(f"local/{props['stack']}", _outputs(props, info))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            info = _workspace(props).get()
        except NotFoundError:
            return ReadResult("", {})  # gone outside Pulumi: refresh drops it from state
        outs = _outputs(props, info)
        inputs = {key: outs[key] for key in ("stack", "container", *UPDATE_KEYS)}
        return ReadResult(id_, outs, inputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        info = _workspace(news).update(news["description"], news["tags"])
        return UpdateResult(_outputs(news, info))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _workspace(props).delete()


class Workspace(Resource, module="mlstack", name="Workspace"):
    """A stack's local workspace: catalog record plus default datastore container."""

    name: pulumi.Output[str]
    container: pulumi.Output[str]
    datastore: pulumi.Output[str]
    datastore_uri: pulumi.Output[str]
    catalog: pulumi.Output[str]
    created_at: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        stack: str,
        container: str,
        description: str = "",
        tags: dict[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "stack": stack,
            "container": container,
            "description": description,
            "tags": tags or {},
            **dict.fromkeys(("name", "datastore", "datastore_uri", "catalog", "created_at")),
        }
        super().__init__(WorkspaceProvider(), resource_name, props, opts)
