"""Store content in a workspace's datastore, verify it, and only then register a version.

Built once on the :class:`~mlstack.workspace.protocol.Workspace` protocol, so both targets
keep the same guarantee: a crash anywhere leaves either no new version or a complete
one, and the next run resumes without re-sending what arrived. Files land as a plain
folder, ``LocalUpload/<hex digest>/<name>/``, that any Azure ML job can mount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.content.manifest import Manifest
from mlstack.content.transfer import TransferReport, upload
from mlstack.errors import WorkspaceError
from mlstack.workspace.asset import AssetVersion, datastore_uri, upload_prefix
from mlstack.workspace.protocol import Workspace

__all__ = ["Registered", "register_copy", "register_folder"]

NO_LOCAL_FILES = Path("/nonexistent/mlstack-copies-every-file")
"""``root`` of a copy: every file is known in the source datastore, none is read here."""


@dataclass(frozen=True)
class Registered:
    """A registration's outcome: the version, whether it is new, and what moved."""

    version: AssetVersion
    new: bool
    transfer: TransferReport | None


def register_folder(
    ws: Workspace,
    kind: str,
    name: str,
    root: Path,
    manifest: Manifest,
    *,
    type_: str,
    properties: Mapping[str, Any] | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    stage: str = "",
    version: str | None = None,
    progress: bool = False,
) -> Registered:
    """Store the folder ``root`` (scanned as ``manifest``), then register it as ``name``.

    Only content the datastore lacks is sent; what earlier versions of ``name`` hold is
    copied server-side.
    """
    prefix = upload_prefix(manifest.digest, name)
    known = ws.stored_content(name, kind)  # the name's versions first: digest look-up
    report = upload(root, manifest, ws.endpoint, ws.container, prefix, known, progress=progress)
    found, new = ws.registry(kind).register(
        name, type_=type_, uri=datastore_uri(prefix, ws.datastore), digest=manifest.digest,
        manifest=manifest, properties=properties, description=description, tags=tags,
        stage=stage, version=version,
    )  # fmt: skip
    return Registered(found, new, report)


def register_copy(
    ws: Workspace,
    source: Workspace,
    found: AssetVersion,
    *,
    properties: Mapping[str, Any],
    description: str = "",
    tags: Mapping[str, str] | None = None,
    stage: str = "",
) -> Registered:
    """Copy version ``found`` of ``source`` server-side into ``ws`` and register it there.

    No byte passes through this machine. Every blob is verified against the source's
    manifest before the version is registered.
    """
    if source.endpoint.url.rstrip("/") != ws.endpoint.url.rstrip("/"):
        raise WorkspaceError(
            f"{found.kind} {found.name}:{found.version} lives in another storage account "
            f"({source.endpoint.url}) than this workspace's datastore ({ws.endpoint.url}): "
            "promote between workspaces that share a storage account"
        )
    manifest = source.registry(found.kind).manifest(found.name, found.version)
    prefix = upload_prefix(found.digest, found.name)
    known = {e.sha256: f"/{source.container}/{prefix}/{e.path}" for e in manifest.entries}
    report = upload(NO_LOCAL_FILES, manifest, ws.endpoint, ws.container, prefix, known,
                    progress=False)  # fmt: skip
    registered, new = ws.registry(found.kind).register(
        found.name, type_=found.type, uri=datastore_uri(prefix, ws.datastore),
        digest=found.digest, manifest=manifest, properties=properties,
        description=description, tags=tags, stage=stage,
    )  # fmt: skip
    return Registered(registered, new, report)
