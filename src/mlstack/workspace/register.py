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

from azure.core.exceptions import HttpResponseError

from mlstack.content.completion import Known, read_sealed
from mlstack.content.manifest import Manifest
from mlstack.content.signature import DATA_READER, read_signature, role_fix
from mlstack.content.transfer import TransferReport, upload
from mlstack.errors import StorageAccessError, WorkspaceError
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
    digest: str | None = None,
) -> Registered:
    """Store the folder ``root`` (scanned as ``manifest``), then register it as ``name``.

    Only content the datastore lacks is sent; what earlier versions of ``name`` hold is
    copied server-side. ``digest`` is the version's digest when it covers more than the
    folder (a component's spec and code); the files still land under the folder's own.
    """
    prefix = upload_prefix(manifest.digest, name)
    known = ws.stored_content(name, kind)  # the name's versions first: digest look-up
    report = upload(root, manifest, ws.endpoint, ws.container, prefix, known, progress=progress)
    found, new = ws.registry(kind).register(
        name, type_=type_, uri=datastore_uri(prefix, ws.datastore),
        digest=digest or manifest.digest, manifest=manifest, properties=properties,
        description=description, tags=tags, stage=stage, version=version,
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

    No byte passes through this machine: within one storage account the target copies from
    the source container with its own credential; across accounts (and subscriptions) it
    copies from URLs signed with a short-lived read-only SAS on the source container
    (:func:`mlstack.content.signature.read_signature`). Each copy is conditional on the
    ETag the source's marker recorded, so it copies the content verified when the source
    version was stored (copies of versions stored by earlier releases are verified against
    the manifest by a listing) before the version is registered.
    """
    prefix = upload_prefix(found.digest, found.name)
    sealed = read_sealed(source.endpoint, source.container, prefix)
    if sealed is not None and sealed.manifest.digest == found.digest:
        manifest, etags = sealed.manifest, sealed.etags
    else:  # the registry's own reading, and its errors for content that is not there
        manifest, etags = source.registry(found.kind).manifest(found.name, found.version), {}
    same_account = source.endpoint.url.rstrip("/") == ws.endpoint.url.rstrip("/")
    sas = ""
    if same_account:
        base = f"/{source.container}"
    else:
        sas = read_signature(source.endpoint, source.container).token
        base = f"{source.endpoint.url.rstrip('/')}/{source.container}"
    known = Known()
    known.add(f"{base}/{prefix}", manifest, etags)
    try:
        report = upload(NO_LOCAL_FILES, manifest, ws.endpoint, ws.container, prefix, known,
                        progress=False, source_sas=sas)  # fmt: skip
    except WorkspaceError as error:
        if not same_account and _copy_source_refused(error):
            account = source.endpoint.account
            fix = role_fix(account, DATA_READER, "for the server-side copy out of it")
            raise StorageAccessError(
                account, DATA_READER, f"storage account {account!r} refused to let "
                f"{found.kind} {found.name}:{found.version} be copied out of it (HTTP 403): {fix}",
            ) from None  # fmt: skip
        raise
    registered, new = ws.registry(found.kind).register(
        found.name, type_=found.type, uri=datastore_uri(prefix, ws.datastore),
        digest=found.digest, manifest=manifest, properties=properties,
        description=description, tags=tags, stage=stage,
    )  # fmt: skip
    return Registered(registered, new, report)


def _copy_source_refused(error: WorkspaceError) -> bool:
    """Whether a copy failed because the source account refused the signed URL (403
    ``CannotVerifyCopySource``), not because the target refused the caller."""
    cause = error.__cause__
    return (
        isinstance(cause, HttpResponseError)
        and cause.status_code == 403
        and getattr(cause, "error_code", None) == "CannotVerifyCopySource"
    )
