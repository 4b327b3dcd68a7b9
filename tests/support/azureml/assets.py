"""Asset containers and versions of one kind in one workspace, with the service's rules.

Bodies are read and written with azure-ai-ml's generated models (``arm_ml_service.models``:
``DataVersionBase`` / ``ModelVersion`` / ``EnvironmentVersion`` and their containers), so a
PUT body is parsed exactly as the SDK's own deserializer reads a response, and every answer
is an ``as_dict()`` of a model. The rules:

- ``(name, version)`` is write-once. A field the SDK model marks create-only (visibility
  ``read, create``: a data version's ``dataUri`` and ``dataType``, an environment's
  ``image`` / ``condaFile`` / ``build`` / ``osType`` ..., ``isAnonymous``) cannot change,
  nor can a model's ``modelUri``: a changed path is refused with 400 ``UserError`` "Asset
  paths cannot be updated." (the message azure-ai-ml's data/model/code operations look
  for), any other change with 409 ``Conflict`` (what azure-ai-ml's environment
  auto-versioning expects, ``ResourceExistsError``). A create-only field left out of a
  re-PUT keeps its value. An identical re-PUT succeeds (200) and may change description,
  tags, properties, stage and ``isArchived``: that is how MLClient archives and restores
  (GET the version, set ``isArchived``, PUT it back). MLClient leaves ``stage`` out of that
  PUT (``_archive_restore_body``), so a re-PUT without a stage keeps the stored one.
- The first version PUT creates the container (201); containers carry ``latestVersion``
  (the newest created version, archived or not) and ``nextVersion`` (the next integer after
  every integer version).
- ``listViewType`` ``ActiveOnly`` (the default), ``ArchivedOnly`` or ``All`` filters on
  ``isArchived``; versions list newest first unless ``$orderBy`` (``createdtime`` /
  ``modifiedtime``, ``asc`` / ``desc``) says otherwise; listing the versions of an unknown
  name is an empty list.
- Data versions cannot be deleted (400 ``UserError``: the service dropped data deletion in
  favour of archiving); model and environment versions can.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.ai.ml._restclient.arm_ml_service import models as rest
from azure.ai.ml._restclient.arm_ml_service._utils.model_base import Model, _deserialize

from tests.support.azureml.errors import ASSET_PATHS, conflict, not_found, user_error

PROVIDER = "Microsoft.MachineLearningServices"
USER = "loopback-user@example.test"
VIEWS = {"activeonly": "ActiveOnly", "archivedonly": "ArchivedOnly", "all": "All"}
DATA_TYPES = {"uri_file", "uri_folder", "mltable"}

_sequence = itertools.count(1)


def now() -> datetime:
    return datetime.now(UTC)


def system_data(created: datetime, modified: datetime) -> rest.SystemData:
    return rest.SystemData(
        created_at=created, created_by=USER, created_by_type="User",
        last_modified_at=modified, last_modified_by=USER, last_modified_by_type="User",
    )  # fmt: skip


def create_only(properties_model: Any) -> dict[str, str]:
    """attribute → REST name of the fields the SDK model lets a client set only at creation."""
    properties_model({})  # the model computes its field table on first use
    fields: dict[str, Any] = properties_model._attr_to_rest_field
    return {
        attr: rf._rest_name
        for attr, rf in fields.items()
        if rf._visibility and "create" in rf._visibility and "update" not in rf._visibility
    }


@dataclass(frozen=True)
class Kind:
    """One asset kind: its URL segment, SDK models, and which fields are its path."""

    segment: str
    label: str
    version_model: Any  # the SDK model classes (typed loosely: their fields are generated)
    container_model: Any
    container_properties: Any
    properties_model: Any
    paths: tuple[str, ...]
    required: str = ""
    """A property a version PUT must carry (``componentSpec``, ``codeUri``), or none."""
    mutable_keys: tuple[str, ...] = ()
    """Keys inside a create-only mapping that may still change (a component spec's
    ``description`` and ``tags``, which ``az ml component update`` changes)."""

    @property
    def frozen(self) -> dict[str, str]:
        return {**create_only(self.properties_model), **{p: p for p in self.paths}}


KINDS = {
    "data": Kind("data", "data", rest.DataVersionBase, rest.DataContainer,
                 rest.DataContainerProperties, rest.DataVersionBaseProperties, ("data_uri",)),
    "models": Kind("models", "model", rest.ModelVersion, rest.ModelContainer,
                   rest.ModelContainerProperties, rest.ModelVersionProperties, ("model_uri",)),
    "environments": Kind("environments", "environment", rest.EnvironmentVersion,
                         rest.EnvironmentContainer, rest.EnvironmentContainerProperties,
                         rest.EnvironmentVersionProperties, ()),
}  # fmt: skip
# Components and their code assets (``components.py``) join the kinds above.
from tests.support.azureml.components import COMPONENT_KINDS  # noqa: E402

KINDS |= COMPONENT_KINDS
BY_LABEL = {kind.label: kind for kind in KINDS.values()}


def _same(old: Any, new: Any) -> bool:
    """Equal, with absent / null / empty / False read alike (defaults the service fills)."""

    def norm(value: Any) -> Any:
        if isinstance(value, Model):
            value = value.as_dict()
        return None if value in (None, False, "", {}, []) else value

    return bool(norm(old) == norm(new))


def view_of(raw: str | None) -> str:
    if raw is None:
        return "ActiveOnly"
    view = VIEWS.get(raw.lower())
    if view is None:
        raise user_error(
            f"The value '{raw}' is not valid for listViewType: use ActiveOnly, ArchivedOnly or All."
        )
    return view


def shown(archived: bool, view: str) -> bool:
    return view == "All" or archived == (view == "ArchivedOnly")


@dataclass
class Version:
    resource: Any
    seq: int
    touched: int

    @property
    def archived(self) -> bool:
        return bool(self.resource.properties.is_archived)


@dataclass
class Container:
    name: str
    seq: int
    created: datetime
    modified: datetime
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    archived: bool = False
    data_type: str | None = None
    versions: dict[str, Version] = field(default_factory=dict)

    def latest(self) -> str | None:
        newest = max(self.versions.values(), key=lambda v: v.seq, default=None)
        return str(newest.resource.name) if newest else None

    def next_version(self) -> str:
        numbers = [int(v) for v in self.versions if v.isdigit()]
        return str(max(numbers, default=0) + 1)


class Catalog:
    """The containers and versions of one kind in one workspace (callers hold the lock)."""

    def __init__(self, kind: Kind, workspace_id: str, workspace: str) -> None:
        self.kind, self.workspace_id, self.workspace = kind, workspace_id, workspace
        self.containers: dict[str, Container] = {}

    def _id(self, name: str, version: str | None = None) -> str:
        tail = f"/versions/{version}" if version is not None else ""
        return f"{self.workspace_id}/{self.kind.segment}/{name}{tail}"

    def _type(self, versions: bool) -> str:
        tail = "/versions" if versions else ""
        return f"{PROVIDER}/workspaces/{self.kind.segment}{tail}"

    def _missing(self, name: str, version: str | None = None) -> Exception:
        what = f"{name}:{version}" if version is not None else name
        return not_found(
            f"The {self.kind.label} asset {what} was not found in workspace {self.workspace}."
        )

    # -- versions ---------------------------------------------------------------------------

    def _parse(self, name: str, version: str, body: Any) -> Any:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise user_error("The request body must be a JSON object with 'properties'.")
        resource = _deserialize(self.kind.version_model, body)
        props = resource.properties
        if self.kind.segment == "data":
            if props.data_type not in DATA_TYPES:
                raise user_error(f"dataType must be one of {sorted(DATA_TYPES)}.")
            if not props.data_uri:
                raise user_error(f"Data asset {name}:{version} needs a dataUri.")
        if self.kind.segment == "environments" and not (props.image or props.build):
            raise user_error(f"Environment {name}:{version} needs an image or a build context.")
        if self.kind.required and not getattr(props, self.kind.required, None):
            raise user_error(f"The {self.kind.label} {name}:{version} needs {self.kind.required}.")
        return resource

    def _frozen_part(self, value: Any) -> Any:
        if isinstance(value, dict) and self.kind.mutable_keys:
            return {k: v for k, v in value.items() if k not in self.kind.mutable_keys}
        return value

    def _check_unchanged(self, name: str, version: str, old: Any, new: Any) -> None:
        changed = [
            (attr, rest_name)
            for attr, rest_name in self.kind.frozen.items()
            if getattr(new.properties, attr, None) is not None
            and not _same(self._frozen_part(getattr(old.properties, attr, None)),
                          self._frozen_part(getattr(new.properties, attr)))
        ]  # fmt: skip
        if any(attr in self.kind.paths for attr, _ in changed):
            raise user_error(ASSET_PATHS)
        if changed:
            fields = ", ".join(rest_name for _, rest_name in changed)
            raise conflict(
                f"The {self.kind.label} asset {name}:{version} already exists with different "
                f"{fields}; versions cannot be modified. Create a new version instead."
            )
        for attr in self.kind.frozen:  # left out of the re-PUT: kept
            if getattr(new.properties, attr, None) is None:
                setattr(new.properties, attr, getattr(old.properties, attr, None))

    def put_version(self, name: str, version: str, body: Any) -> tuple[bool, dict[str, Any]]:
        """Create or update; True when created."""
        resource = self._parse(name, version, body)
        container = self.containers.get(name)
        old = container.versions.get(version) if container else None
        stamp = now()
        if old is not None:
            self._check_unchanged(name, version, old.resource, resource)
            created = old.resource.system_data.created_at
            staged = self.kind.segment in ("models", "environments")
            if staged and resource.properties.stage is None:
                resource.properties.stage = old.resource.properties.stage
        else:
            created = stamp
        props = resource.properties
        props.is_archived = bool(props.is_archived)
        props.is_anonymous = bool(props.is_anonymous)
        if self.kind.segment != "data":
            props.provisioning_state = "Succeeded"
        if self.kind.segment == "models" and props.flavors is None:
            props.flavors = {}
        if self.kind.segment == "environments":
            props.environment_type = "UserCreated"
            props.os_type = props.os_type or "Linux"
        resource.id, resource.name = self._id(name, version), version
        resource.type, resource.system_data = self._type(True), system_data(created, stamp)
        if container is None:
            container = self.containers[name] = Container(name, next(_sequence), stamp, stamp)
            if self.kind.segment == "data":
                container.data_type = str(props.data_type)
        container.modified = stamp
        touched = next(_sequence)
        seq = old.seq if old is not None else touched
        container.versions[version] = Version(resource, seq, touched)
        return old is None, resource.as_dict()

    def version(self, name: str, version: str) -> dict[str, Any]:
        container = self.containers.get(name)
        found = container.versions.get(version) if container else None
        if found is None:
            raise self._missing(name, version)
        return dict(found.resource.as_dict())

    def delete_version(self, name: str, version: str) -> None:
        if self.kind.segment == "data":
            raise user_error("Deleting a data asset version is not supported: archive it instead.")
        container = self.containers.get(name)
        if container is None or container.versions.pop(version, None) is None:
            raise self._missing(name, version)

    def versions(self, name: str, view: str, order_by: str | None) -> list[dict[str, Any]]:
        container = self.containers.get(name)
        if container is None:
            return []
        field_, _, direction = (order_by or "createdtime desc").strip().lower().partition(" ")
        if field_ not in ("createdtime", "modifiedtime") or direction not in ("", "asc", "desc"):
            raise user_error(f"Cannot order by '{order_by}': use createdtime or modifiedtime.")

        def key(v: Version) -> int:
            return v.seq if field_ == "createdtime" else v.touched

        found = sorted(container.versions.values(), key=key, reverse=direction == "desc")
        return [v.resource.as_dict() for v in found if shown(v.archived, view)]

    # -- containers -------------------------------------------------------------------------

    def _render(self, container: Container) -> dict[str, Any]:
        props = self.kind.container_properties({})
        props.description, props.tags = container.description, dict(container.tags)
        props.is_archived = container.archived
        props.latest_version, props.next_version = container.latest(), container.next_version()
        if container.data_type is not None:
            props.data_type = container.data_type
        resource = self.kind.container_model(properties=props)
        resource.id, resource.name = self._id(container.name), container.name
        resource.type = self._type(False)
        resource.system_data = system_data(container.created, container.modified)
        return dict(resource.as_dict())

    def container(self, name: str) -> dict[str, Any]:
        container = self.containers.get(name)
        if container is None:
            raise self._missing(name)
        return self._render(container)

    def put_container(self, name: str, body: Any) -> tuple[bool, dict[str, Any]]:
        """Metadata and ``isArchived`` of a container (MLClient archives a whole name so)."""
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise user_error("The request body must be a JSON object with 'properties'.")
        props = _deserialize(self.kind.container_model, body).properties
        container = self.containers.get(name)
        created = container is None
        if container is None:
            stamp = now()
            container = self.containers[name] = Container(name, next(_sequence), stamp, stamp)
        if self.kind.segment == "data" and container.data_type is None:
            container.data_type = props.data_type
        container.description, container.tags = props.description, dict(props.tags or {})
        container.archived, container.modified = bool(props.is_archived), now()
        return created, self._render(container)

    def list_containers(self, view: str) -> list[dict[str, Any]]:
        found = sorted(self.containers.values(), key=lambda c: c.name)
        return [self._render(c) for c in found if shown(c.archived, view)]
