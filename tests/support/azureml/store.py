"""The service's state: workspaces (keyed by ARM id), their datastores and asset catalogs.

ARM names are case-insensitive, so workspaces are found by the lower-cased
(subscription, resource group, name). A request under a workspace that is not there is
answered as ARM answers it: 404 ``ResourceGroupNotFound`` when no workspace was ever added
to that resource group, else 404 ``ParentResourceNotFound`` for a nested resource (what a
real ``az ml data create`` against a missing workspace prints) and ``ResourceNotFound`` for
the workspace itself. Datastores are ``Datastore`` models with ``AzureBlobDatastore``
properties and account-key credentials whose key only ``listSecrets`` returns
(``AccountKeyDatastoreSecrets``); the workspace default is the one ``isDefault`` marks.

One lock guards everything: the server takes it around each request.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.ai.ml._restclient.arm_ml_service import models as rest

from tests.support.azureml.assets import KINDS, PROVIDER, Catalog, now, system_data
from tests.support.azureml.cloud import STORAGE_SUFFIX
from tests.support.azureml.errors import ServiceError, not_found


def workspace_id(subscription_id: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/{PROVIDER}/workspaces/{name}"
    )


@dataclass
class StoredDatastore:
    resource: Any
    key: str


@dataclass
class Workspace:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    created: datetime = field(default_factory=now)
    guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    datastores: dict[str, StoredDatastore] = field(default_factory=dict)
    catalogs: dict[str, Catalog] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.catalogs = {
            segment: Catalog(kind, self.id, self.name) for segment, kind in KINDS.items()
        }

    @property
    def id(self) -> str:
        return workspace_id(self.subscription_id, self.resource_group, self.name)

    def resource(self) -> dict[str, Any]:
        """The workspace as ``GET .../workspaces/<name>`` returns it (the fields we know)."""
        props = rest.WorkspaceProperties(friendly_name=self.name)
        props.workspace_id, props.provisioning_state = self.guid, "Succeeded"
        default = [d for d in self.datastores.values() if d.resource.properties.is_default]
        if default:
            props.storage_account = (
                f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                "/providers/Microsoft.Storage/storageAccounts/"
                f"{default[0].resource.properties.account_name}"
            )
        resource = rest.Workspace(properties=props)
        resource.id, resource.name = self.id, self.name
        resource.type = f"{PROVIDER}/workspaces"
        resource["location"] = self.location
        resource.system_data = system_data(self.created, self.created)
        return dict(resource.as_dict())

    # -- datastores -------------------------------------------------------------------------

    def add_datastore(
        self, name: str, *, account: str, container: str, key: str, default: bool
    ) -> None:
        props = rest.AzureBlobDatastore(
            account_name=account, container_name=container, endpoint=STORAGE_SUFFIX,
            protocol="https", credentials=rest.AccountKeyDatastoreCredentials({}),
            service_data_access_auth_identity="None",
        )  # fmt: skip
        if default:
            for other in self.datastores.values():
                other.resource.properties.is_default = False
        props.is_default = default
        resource = rest.Datastore(properties=props)
        resource.id, resource.name = f"{self.id}/datastores/{name}", name
        resource.type = f"{PROVIDER}/workspaces/datastores"
        resource.system_data = system_data(now(), now())
        self.datastores[name] = StoredDatastore(resource, key)

    def _datastore(self, name: str) -> StoredDatastore:
        found = self.datastores.get(name)
        if found is None:
            raise not_found(f"No datastore named '{name}' in workspace {self.name}.")
        return found

    def datastore(self, name: str) -> dict[str, Any]:
        return dict(self._datastore(name).resource.as_dict())

    def list_datastores(self, default_only: bool) -> list[dict[str, Any]]:
        found = sorted(self.datastores.values(), key=lambda d: str(d.resource.name))
        return [
            d.resource.as_dict()
            for d in found
            if not default_only or d.resource.properties.is_default
        ]

    def secrets(self, name: str) -> dict[str, Any]:
        return dict(rest.AccountKeyDatastoreSecrets(key=self._datastore(name).key).as_dict())


class Store:
    """Every workspace the service knows, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._workspaces: dict[tuple[str, str, str], Workspace] = {}

    def add_workspace(
        self, subscription_id: str, resource_group: str, name: str, location: str
    ) -> Workspace:
        key = (subscription_id.lower(), resource_group.lower(), name.lower())
        with self.lock:
            if key in self._workspaces:
                raise ValueError(f"workspace {workspace_id(*key)} is already registered")
            workspace = Workspace(subscription_id, resource_group, name, location)
            self._workspaces[key] = workspace
            return workspace

    def remove_workspace(self, subscription_id: str, resource_group: str, name: str) -> None:
        with self.lock:
            self._workspaces.pop((subscription_id.lower(), resource_group.lower(), name.lower()))

    def workspace(
        self, subscription_id: str, resource_group: str, name: str, nested: bool = True
    ) -> Workspace:
        """The workspace, or the 404 ARM answers for it (see the module docstring)."""
        sub, rg = subscription_id.lower(), resource_group.lower()
        found = self._workspaces.get((sub, rg, name.lower()))
        if found is not None:
            return found
        if not any(key[:2] == (sub, rg) for key in self._workspaces):
            raise ServiceError(
                404, "ResourceGroupNotFound",
                f"Resource group '{resource_group}' could not be found.",
            )  # fmt: skip
        if nested:
            raise ServiceError(
                404, "ParentResourceNotFound",
                "Can not perform requested operation on nested resource. "
                f"Parent resource '{name}' not found.",
            )  # fmt: skip
        raise ServiceError(
            404, "ResourceNotFound",
            f"The Resource '{PROVIDER}/workspaces/{name}' under resource group "
            f"'{resource_group}' was not found. For more details please go to "
            "https://aka.ms/ARMResourceNotFoundFix",
        )  # fmt: skip

    def find(self, workspace: str) -> Workspace:
        """A workspace by its ARM id (inspection helpers)."""
        with self.lock:
            for found in self._workspaces.values():
                if found.id.lower() == workspace.lower():
                    return found
        raise KeyError(f"no workspace {workspace} in this service")
