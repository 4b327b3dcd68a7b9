"""Where a promoted version comes from, and the checks every source passes before a pin.

A :class:`PromotionSource` reads one version of the source stack and proves its stored
content is what its digest names; :func:`checked` adds what holds for every source (not
archived, the model's gates met). One implementation per kind of source:

- :class:`WorkspaceSource`: a version in the source stack's workspace, read through the
  workspace protocol, on either backend (local → local, azure → azure); the target's
  ``pulumi up`` copies the content server-side (``providers/promoted.py``). Nothing more is
  needed on Azure: the cross-account copy is signed at ``pulumi up``, by whoever runs it.
- an Azure ML registry source (``--via registry``, issue 13): the version shared into the
  registry, pinned by digest; prod's deployments then reference the registry URI.
"""

from __future__ import annotations

from typing import Protocol

from azure.core.exceptions import HttpResponseError

from mlstack.config.models import load_model_specs
from mlstack.content.completion import listing, problems
from mlstack.content.retry import DEFAULT_RETRY
from mlstack.content.signature import DATA_READER, role_fix
from mlstack.errors import MlstackError, NotFoundError, PromotionError, WorkspaceError
from mlstack.project import Project
from mlstack.stack import Stack
from mlstack.workspace import Workspace
from mlstack.workspace.asset import AssetVersion, upload_prefix

__all__ = ["PromotionSource", "WorkspaceSource", "checked"]


class PromotionSource(Protocol):
    """A version to promote, as the source holds it."""

    @property
    def stack(self) -> str:
        """The source stack's name."""
        ...

    def get(self, kind: str, name: str, version: str | None) -> AssetVersion:
        """The version (default: the latest), or a :class:`PromotionError` naming the source."""
        ...

    def verify(self, found: AssetVersion) -> None:
        """Refuse (:class:`PromotionError`) unless the stored content is ``found.digest``."""
        ...


class WorkspaceSource:
    """A version in the source stack's workspace, through the workspace protocol."""

    def __init__(self, source: Stack, target: str) -> None:
        self._source = source
        self._target = target
        self._ws: Workspace | None = None

    @property
    def stack(self) -> str:
        return self._source.name

    def _refuse(self, message: str) -> PromotionError:
        return PromotionError(self.stack, self._target, message)

    def _workspace(self) -> Workspace:
        if self._ws is None:
            try:
                self._ws = self._source.workspace()
            except MlstackError as error:  # never deployed, Azure sign-in, bad config
                reason = f"cannot read the source stack {self.stack!r}: {error}"
                raise self._refuse(reason) from None
        return self._ws

    def get(self, kind: str, name: str, version: str | None) -> AssetVersion:
        registry = self._workspace().registry(kind)
        try:
            return registry.get(name, version)
        except NotFoundError as error:
            raise self._refuse(
                f"stack {self.stack!r}: {error} (its versions: `mlstack {kind} list {name} "
                f"-s {self.stack}`)"
            ) from None
        except MlstackError as error:  # unreachable, or not signed in (`az login`)
            raise self._refuse(f"cannot read the source stack {self.stack!r}: {error}") from None

    def verify(self, found: AssetVersion) -> None:
        """The manifest hashes to the digest, and the datastore holds exactly its blobs."""
        ws = self._workspace()
        where = f"{found.kind} {found.name}:{found.version} of stack {self.stack!r}"
        again = (
            f"not promoted. Find out who changed it, then register the content again "
            f"(`pulumi up -s {self.stack}`) and promote the new version"
        )
        try:
            manifest = ws.registry(found.kind).manifest(found.name, found.version)
        except MlstackError as error:  # Azure: the marker no longer names the digest
            raise self._refuse(f"{where}: {error}; {again}") from None
        if manifest.digest != found.digest:
            raise self._refuse(
                f"{where}: its recorded manifest hashes to {manifest.digest}, not to its "
                f"digest {found.digest}: the workspace record was changed after registration "
                f"(tampering?); {again}"
            )
        prefix = upload_prefix(found.digest, found.name)
        with ws.endpoint.client() as service:
            container = service.get_container_client(ws.container)
            try:
                listed = listing(container, prefix, DEFAULT_RETRY)
            except WorkspaceError as error:
                denied = self._denied(error, ws.endpoint.account)
                if denied is None:
                    raise
                raise denied from None
            wrong = problems(manifest, prefix, listed)
        if wrong:
            blob, reason = min(wrong.items())
            raise self._refuse(
                f"{where}: the datastore does not hold the content its digest {found.digest} "
                f"names ({len(wrong)} blob(s) differ, e.g. {blob}: {reason}): the content was "
                f"changed or tampered with after registration; {again}"
            )

    def _denied(self, error: WorkspaceError, account: str) -> PromotionError | None:
        """A refusal naming the role to grant, if the source account answered 403."""
        cause = error.__cause__
        if not isinstance(cause, HttpResponseError) or cause.status_code != 403:
            return None
        why = "to check the content before it is pinned, and to copy it at `pulumi up`"
        return self._refuse(
            f"storage account {account!r} of stack {self.stack!r} refused to list the "
            f"version's content (HTTP 403): {role_fix(account, DATA_READER, why)}"
        )


def checked(
    source: PromotionSource, project: Project, *, kind: str, name: str, version: str | None,
    target: str,
) -> AssetVersion:  # fmt: skip
    """The version to pin, once it is live, meets its gates and its content is its digest."""
    found = source.get(kind, name, version)
    where = f"{kind} {name}:{found.version}"
    if found.archived:
        raise PromotionError(
            source.stack, target, f"{where} is archived in stack {source.stack!r}: restore it "
            f"with `mlstack {kind} restore {name}:{found.version} -s {source.stack}`, or promote "
            "another version",
        )  # fmt: skip
    if kind == "model":
        _gates(project, source.stack, target, found)
    source.verify(found)
    return found


def _gates(project: Project, source: str, target: str, found: AssetVersion) -> None:
    """Every gate the model's YAML declares, against the metrics frozen on the version."""
    specs = [s for s in load_model_specs(project.root) if s.name == found.name]
    if not specs:
        raise PromotionError(
            source, target, f"no file in assets/models/ declares model {found.name!r}: "
            "declare it (with its gates) before promoting it",
        )  # fmt: skip
    spec = specs[0]
    inside = spec.file.is_relative_to(project.root)
    declared = spec.file.relative_to(project.root) if inside else spec.file
    metrics = dict(found.properties.get("metrics", {}))
    failed = [f"{reason} (gate {gate})" for gate in spec.gates if (reason := gate.check(metrics))]
    if failed:
        raise PromotionError(
            source, target, f"model {found.name}:{found.version} of stack {source!r} fails its "
            f"gates in {declared}: {'; '.join(failed)}: not promoted; promote a version that "
            "meets them",
        )  # fmt: skip
