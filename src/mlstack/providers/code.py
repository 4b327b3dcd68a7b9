"""The ``CodeFolder`` dynamic resource: a deployment's scoring code in the workspace datastore.

An attached workspace's storage account is not a resource of the stack, so the code
cannot be uploaded as azure-native blobs; it goes through the workspace protocol instead,
to ``code/<hex digest>/`` of the datastore container (the layout the created estate uses),
verified like asset content. The output ``uri`` is what a code version points at. Code
blobs are content-addressed and shared, so ``delete`` leaves them in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from mlstack.config.locator import AzureLocator, LocalLocator, locator_of
from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.scan import scan
from mlstack.content.transfer import upload
from mlstack.errors import WorkspaceError
from mlstack.project import Project
from mlstack.workspace import open_workspace


def _upload(props: dict[str, Any]) -> dict[str, Any]:
    ws = open_workspace(locator_of(props))
    root = Path(props["source"])
    with SqliteHashCache.in_home(Project.find().home) as cache:
        manifest = scan(root, cache)
    if manifest.digest != props["digest"]:
        raise WorkspaceError(
            f"scoring code {root} changed since this run's preview: run `pulumi up` again"
        )
    prefix = f"code/{manifest.digest.removeprefix('sha256:')}"
    upload(root, manifest, ws.endpoint, ws.container, prefix, {}, progress=False)
    return {**props, "uri": f"{ws.endpoint.url.rstrip('/')}/{ws.container}/{prefix}"}


class CodeFolderProvider(ResourceProvider):
    """Upload on create and on a new digest; nothing to undo on delete."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        moved = locator_of(olds) != locator_of(news)
        return DiffResult(changes=moved or olds.get("digest") != news.get("digest"),
                          replaces=["workspace"] if moved else [])  # fmt: skip

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = _upload(props)
        return CreateResult(f"code/{props['digest']}", outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_upload(news))


class CodeFolder(Resource, module="mlstack", name="CodeFolder"):
    """A code folder uploaded to a workspace's datastore, addressed by its digest."""

    uri: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        workspace: LocalLocator | AzureLocator,
        source: Path,
        digest: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"workspace": workspace.model_dump(), "source": str(source), "digest": digest,
                 "uri": None}  # fmt: skip
        super().__init__(CodeFolderProvider(), resource_name, props, opts)
