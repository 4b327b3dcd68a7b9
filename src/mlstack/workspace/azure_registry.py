"""Versioned assets of one kind in an Azure ML workspace, with the local emulator's semantics.

:class:`AzureRegistry` mirrors :class:`mlstack.workspace.registry.Registry` over
``MLClient.data`` / ``.models`` / ``.environments``: ``(name, version)`` is write-once,
the next version is the next integer after every listed version (the service's
``nextVersion`` rule; a conflicting PUT moves on to the one after), identical
content is found by its digest and never becomes a new version, and the errors read as the
local ones do. The digest, file count and size live in the version's immutable
``properties`` under ``mlstack.*`` keys; Azure ML properties are strings, so other values
are stored as JSON and their keys listed in ``mlstack.json``.

azure-ai-ml entities do not carry the archived flag, so it is read with a second listing
(``listViewType=ArchivedOnly``); and a PUT always writes ``isArchived: false``, so changing
an archived version's metadata archives it again afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from azure.ai.ml.constants import ListViewType
from azure.ai.ml.entities import Data, Environment, Model
from azure.ai.ml.exceptions import MlException
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from mlstack.content.manifest import Manifest
from mlstack.errors import ImmutableError, MlstackError, NotFoundError, WorkspaceError
from mlstack.workspace.asset import AssetVersion
from mlstack.workspace.registry import IMMUTABLE

__all__ = ["AzureRegistry", "service_errors"]

DIGEST, FILES, BYTES, JSON_KEYS = "mlstack.digest", "mlstack.files", "mlstack.bytes", "mlstack.json"
CONFLICT_ATTEMPTS = 3
# Models come back with the long form of a datastore URI; the short form is what we register.
_LONG_URI = re.compile(
    r"^azureml://subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/datastores/", re.I
)


class _ConflictError(ImmutableError):
    """The service refused a PUT because the version exists with other content."""


def service_message(error: BaseException) -> str:
    """The service's own words: ``error.message`` of the ARM error body when there is one."""
    detail = getattr(error, "error", None)
    message = getattr(detail, "message", None) or getattr(error, "message", None) or str(error)
    return str(message).strip()


@contextmanager
def service_errors(what: str) -> Iterator[None]:
    """Translate azure-core / azure-ai-ml errors into the workspace error tree."""
    try:
        yield
    except MlstackError:
        raise
    except ResourceNotFoundError as error:
        raise NotFoundError(f"{what}: {service_message(error)}") from error
    except ClientAuthenticationError as error:
        raise WorkspaceError(
            f"{what}: Azure refused the credential ({service_message(error)}): run `az login` "
            "(or check the service principal) and try again"
        ) from error
    except (ServiceRequestError, ServiceResponseError) as error:  # after azure-core's retries
        raise WorkspaceError(
            f"{what}: Azure ML could not be reached ({type(error).__name__}: {error.message}): "
            "check the network, proxy or private endpoint to the workspace, and try again"
        ) from error
    except HttpResponseError as error:
        message = service_message(error)
        if error.status_code == 409 or "cannot be updated" in message:
            raise _ConflictError(f"{what}: {message}") from error
        raise WorkspaceError(f"{what}: Azure ML answered {error.status_code}: {message}") from error
    except MlException as error:  # azure-ai-ml's own validation, e.g. AssetPathException
        cause = error.__cause__
        if _not_found(error):
            raise NotFoundError(f"{what}: {service_message(cause or error)}") from error
        if isinstance(cause, HttpResponseError):
            raise _ConflictError(f"{what}: {service_message(cause)}") from error
        raise WorkspaceError(f"{what}: {error.message}") from error


def _not_found(error: MlException) -> bool:
    """azure-ai-ml reports a missing asset as its own error, with or without the 404."""
    cause = error.__cause__
    if isinstance(cause, HttpResponseError):
        return cause.status_code == 404
    said = str(error.message).lower()
    missing = "not found" in said or "does not exist" in said
    return isinstance(cause, ResourceNotFoundError) or missing


def encode_properties(
    properties: Mapping[str, Any], digest: str, counts: tuple[int, int] | None
) -> dict[str, str]:
    """Azure ML's string-only properties: ours under ``mlstack.*``, the caller's beside them.

    ``counts`` is (files, bytes) of a version with content, None for an environment.
    """
    encoded: dict[str, str] = {DIGEST: digest}
    if counts is not None:
        encoded |= {FILES: str(counts[0]), BYTES: str(counts[1])}
    as_json = sorted(k for k, v in properties.items() if not isinstance(v, str))
    if as_json:
        encoded[JSON_KEYS] = ",".join(as_json)
    for key, value in properties.items():
        encoded[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return encoded


def decode_properties(encoded: Mapping[str, str] | None) -> dict[str, Any]:
    """The caller's properties back, JSON values parsed, ``mlstack.*`` keys left out."""
    encoded = dict(encoded or {})
    as_json = set(filter(None, encoded.get(JSON_KEYS, "").split(",")))
    return {
        key: json.loads(value) if key in as_json else value
        for key, value in sorted(encoded.items())
        if not key.startswith("mlstack.")
    }


def created_at(entity: Any) -> str:
    stamp = getattr(getattr(entity, "creation_context", None), "created_at", None)
    if isinstance(stamp, datetime):
        return stamp.isoformat(timespec="seconds")
    return str(stamp or "")


def _counts(found: AssetVersion) -> tuple[int, int] | None:
    """The stored counts again, so a re-PUT repeats the immutable properties exactly."""
    return (found.files, found.bytes) if (found.files or found.bytes) else None


Versions = list[AssetVersion]


def _int_key(version: AssetVersion) -> tuple[str, int, str]:
    number = int(version.version) if version.version.isdigit() else -1
    return version.name, number, version.version


class AzureRegistry:
    """The versions of one asset ``kind`` (``data``, ``model``, ``environment``)."""

    def __init__(
        self,
        operations: Any,
        kind: str,
        manifests: Callable[[str, str, str], Manifest] | None = None,
    ) -> None:
        # DataOperations / ModelOperations / EnvironmentOperations share the calls used here.
        self.ops = operations
        self.kind = kind
        self._manifests = manifests
        # A name's listing, kept until this registry writes that name: one provider call
        # looks a name up for its known content and again to register, with two requests.
        self._listings: dict[str, Versions] = {}

    def manifest(self, name: str, version: str) -> Manifest:
        """The files of a stored version, as its workspace reads them from the datastore."""
        if self._manifests is None:
            raise NotFoundError(f"{self.kind} asset {name}:{version}: no datastore to read")
        return self._manifests(self.kind, name, version)

    # -- reading --------------------------------------------------------------------------

    def _version(self, entity: Any, archived: bool) -> AssetVersion:
        raw = dict(entity.properties or {})
        properties = decode_properties(raw)
        if self.kind == "environment":
            uri, type_ = f"azureml:{entity.name}", "environment"
            properties = {"image": entity.image, "conda": entity.conda_file, **properties}
        else:
            uri, type_ = _LONG_URI.sub("azureml://datastores/", str(entity.path)), entity.type
        return AssetVersion(
            name=entity.name, version=str(entity.version), type=str(type_), uri=uri,
            digest=raw.get(DIGEST, ""), files=int(raw.get(FILES, 0)), bytes=int(raw.get(BYTES, 0)),
            description=entity.description or "", tags=dict(entity.tags or {}),
            archived=archived, created_at=created_at(entity), kind=self.kind,
            properties=properties, stage=getattr(entity, "stage", None) or "",
        )  # fmt: skip

    def _archived(self, name: str) -> set[str]:
        with service_errors(f"listing archived versions of {self.kind} {name}"):
            listed = self.ops.list(name, list_view_type=ListViewType.ARCHIVED_ONLY)
            return {str(e.version) for e in listed}

    def list(self, name: str | None = None) -> Versions:
        """All versions, archived included, by name then version."""
        if name is None:
            with service_errors(f"listing {self.kind} assets"):
                try:
                    listed = list(self.ops.list(list_view_type=ListViewType.ALL))
                except ResourceNotFoundError:  # no workspace yet: nothing registered, as below
                    return []
            names = sorted({c.name for c in listed})
            return [v for each in names for v in self.list(each)]
        if name in self._listings:
            return list(self._listings[name])
        with service_errors(f"listing versions of {self.kind} {name}"):
            try:
                entities = list(self.ops.list(name, list_view_type=ListViewType.ALL))
            except ResourceNotFoundError:
                return []
        archived = self._archived(name) if entities else set()
        found = [self._version(e, str(e.version) in archived) for e in entities]
        self._listings[name] = sorted(found, key=_int_key)
        return list(self._listings[name])

    def _find(self, name: str, version: str) -> AssetVersion | None:
        with service_errors(f"reading {self.kind} {name}:{version}"):
            try:
                entity = self.ops.get(name, version=version)
            except ResourceNotFoundError:
                return None
        return self._version(entity, version in self._archived(name))

    def get(self, name: str, version: str | None = None) -> AssetVersion:
        """A version, or with ``version=None`` the ``latest`` one that is not archived."""
        if version is not None:
            found = self._find(name, version)
            if found is None:
                raise NotFoundError(
                    f"{self.kind} asset {name}:{version} does not exist in this workspace"
                )
            return found
        with service_errors(f"reading {self.kind} {name}@latest"):
            try:
                entity = self.ops.get(name, label="latest")
            except ResourceNotFoundError:
                entity = None
            except MlException as error:  # azure-ai-ml's own "no such asset" for a label
                if not _not_found(error):
                    raise
                entity = None
        archived = self._archived(name) if entity is not None else set()
        if entity is not None and str(entity.version) not in archived:
            return self._version(entity, archived=False)
        versions = self.list(name)
        live = [v for v in versions if not v.archived]
        if live:
            return live[-1]
        if not versions:
            raise NotFoundError(f"{self.kind} {name} does not exist in this workspace")
        raise NotFoundError(
            f"every version of {self.kind} {name} is archived "
            f"({', '.join(v.version for v in versions)}): name one explicitly, or restore one"
        )

    # -- writing --------------------------------------------------------------------------

    def _entity(
        self,
        name: str,
        version: str,
        *,
        type_: str,
        uri: str,
        digest: str,
        counts: tuple[int, int] | None,
        properties: Mapping[str, Any],
        description: str,
        tags: Mapping[str, str],
        stage: str,
    ) -> Data | Model | Environment:
        meta: dict[str, Any] = {"name": name, "version": version,
                                "description": description, "tags": dict(tags)}  # fmt: skip
        if self.kind == "environment":
            user = dict(properties)
            image, conda = user.pop("image", None), user.pop("conda", None)
            encoded = encode_properties(user, digest, counts)
            return Environment(image=image, conda_file=conda, properties=encoded, **meta)
        encoded = encode_properties(properties, digest, counts)
        if self.kind == "model":
            return Model(type=type_, path=uri, properties=encoded, stage=stage or None, **meta)
        return Data(type=type_, path=uri, properties=encoded, **meta)

    def _put(self, entity: Data | Model | Environment, archived: bool = False) -> AssetVersion:
        what = f"registering {self.kind} {entity.name}:{entity.version}"
        self._listings.pop(str(entity.name), None)
        with service_errors(what):
            created = self.ops.create_or_update(entity)
        if archived:
            self.set_archived(str(entity.name), str(entity.version), archived=True)
        return self._version(created, archived)

    def register(
        self,
        name: str,
        *,
        type_: str,
        uri: str,
        digest: str,
        manifest: Manifest | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        stage: str = "",
        version: str | None = None,
    ) -> tuple[AssetVersion, bool]:
        """Register stored content; return the version and whether it is new.

        As :meth:`mlstack.workspace.registry.Registry.register`.
        """
        content: dict[str, Any] = {
            "type_": type_, "uri": uri, "digest": digest,
            "counts": (manifest.files, manifest.bytes) if manifest else None,
            "properties": dict(properties or {}), "description": description,
            "tags": dict(tags or {}), "stage": stage,
        }  # fmt: skip
        if version is None:
            listing = self.list(name)
            same = [v for v in listing if v.digest == digest]
            if same:
                return self._refresh(same[-1], content), False
            return self._create_next(name, content, listing), True
        existing = self._find(name, version)
        if existing is not None:
            if (existing.uri, existing.digest) != (uri, digest):
                raise self._immutable(name, version)
            return self._refresh(existing, content), False
        try:
            return self._put(self._entity(name, version, **content)), True
        except _ConflictError as error:  # created meanwhile with other content
            raise self._immutable(
                name, version, service_message(error.__cause__ or error)
            ) from error

    def _immutable(self, name: str, version: str, service: str = "") -> ImmutableError:
        said = f" (Azure ML: {service})" if service else ""
        return ImmutableError(
            f"{self.kind} {name}:{version}: {IMMUTABLE[self.kind]} "
            f"Register the new content as a new version instead.{said}"
        )

    def _refresh(self, found: AssetVersion, content: dict[str, Any]) -> AssetVersion:
        """Identical content: restore it if archived and take the new metadata."""
        wanted = (content["description"], content["tags"], content["stage"])
        stage = content["stage"] if self.kind == "model" else found.stage
        if not found.archived and (found.description, dict(found.tags), found.stage) == (
            wanted[0], wanted[1], stage,
        ):  # fmt: skip
            return found
        kept = {**content, "uri": found.uri, "type_": found.type, "properties": found.properties,
                "counts": _counts(found)}  # fmt: skip
        return self._put(self._entity(found.name, found.version, **kept))

    def _create_next(self, name: str, content: dict[str, Any], listing: Versions) -> AssetVersion:
        """Take the next integer after every listed version (archived ones included); a
        writer racing us for it makes the PUT conflict, and the one after is tried."""
        numbers = [int(v.version) for v in listing if v.version.isdigit()]
        candidate = max(numbers, default=0) + 1
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return self._put(self._entity(name, str(candidate), **content))
            except _ConflictError:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                candidate += 1
        raise AssertionError("unreachable")

    def update(
        self, name: str, version: str, description: str, tags: Mapping[str, str], stage: str = ""
    ) -> AssetVersion:
        """Change a version's mutable metadata in place (Azure: the same PUT, new metadata)."""
        found = self.get(name, version)
        kept: dict[str, Any] = {"type_": found.type, "uri": found.uri, "digest": found.digest,
                "counts": _counts(found), "properties": found.properties,
                "description": description, "tags": dict(tags), "stage": stage}  # fmt: skip
        return self._put(self._entity(name, version, **kept), archived=found.archived)

    def set_archived(self, name: str, version: str, archived: bool) -> AssetVersion:
        """Archive (hide from ``latest``) or restore a version; content is never deleted."""
        verb = "archiving" if archived else "restoring"
        self._listings.pop(name, None)
        with service_errors(f"{verb} {self.kind} {name}:{version}"):
            if archived:
                self.ops.archive(name, version=version)
            else:
                self.ops.restore(name, version=version)
        return self.get(name, version)
