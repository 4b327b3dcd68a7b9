"""Azure ML registries on the loopback service: discovery, model versions, import (share).

azure-ai-ml reaches a registry in two steps (``azure/ai/ml/_utils/_registry_utils.py``):

1. **Discovery**, on the cloud's registry discovery endpoint (for a custom cloud:
   ``REGISTRY_DISCOVERY_ENDPOINT_URL``, which ``AzureMLService.env()`` points here):
   ``GET /registrymanagement/v1.0/registries/<name>/discovery`` (api-version ``v1.0``)
   answers a ``RegistryDiscoveryDto``: the registry's subscription, resource group and
   ``primaryRegionResourceProviderUri``, to which the client appends
   ``mferp/managementfrontend`` — the registry's data plane (here: this service again).
2. **Data plane** under ``/mferp/managementfrontend/subscriptions/<s>/resourceGroups/<rg>/
   providers/Microsoft.MachineLearningServices/registries/<r>`` (api-version
   ``2021-10-01-dataplanepreview``):

   =====================================  =========  =====================================
   path                                   methods    azure-ai-ml call
   =====================================  =========  =====================================
   ``/models/<n>``                        GET        ``models.get(n)`` (container)
   ``/models/<n>/versions``               GET        ``models.list(n)``, latest
   ``/models/<n>/versions/<v>``           GET        ``models.get(n, v)``
   ``/import``                            POST       ``models.share(...)`` (an LRO: 202,
                                                     no body; the client then GETs the
                                                     version)
   =====================================  =========  =====================================

Import copies a workspace model version (``sourceAssetId``
``azureml://locations/<region>/workspaces/<workspace guid>/models/<n>/versions/<v>``) into
the registry as ``destinationName:destinationVersion`` with its description, tags and
properties (the digest mlstack keeps in ``mlstack.digest`` among them) and the path
``azureml://registries/<r>/models/<n>/versions/<v>`` (the registry keeps its own copy of
the content; the blobs are not copied here). A version that exists is refused with 409,
as versions are write-once; a registry that does not exist is discovery's 404.

Bodies are built and parsed with azure-ai-ml's own models (``RegistryDiscoveryDto``, the
``arm_ml_service`` ``ModelVersion`` through :class:`~tests.support.azureml.assets.Catalog`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from azure.ai.ml._restclient.registry_discovery.models import RegistryDiscoveryDto

from tests.support.azureml.assets import KINDS, PROVIDER, Catalog
from tests.support.azureml.auth import TENANT, Authority
from tests.support.azureml.errors import ServiceError, conflict, not_found, user_error
from tests.support.azureml.routes import Reply, Request
from tests.support.azureml.store import Store

DISCOVERY = re.compile(r"^/registrymanagement/v1\.0/registries/([^/]+)/discovery/?$", re.I)
DATA_PLANE = "/mferp/managementfrontend"
_SOURCE = re.compile(
    r"^azureml://locations/[^/]+/workspaces/([^/]+)/models?/([^/]+)/versions/([^/]+)$", re.I
)


class RegistryCatalog(Catalog):
    """A registry's models: the workspace catalog's rules, with the registry's ids
    (``azureml://registries/<r>/models/<n>/versions/<v>``, the form azure-ai-ml parses as
    a registry asset) and its resource type."""

    def __init__(self, registry: str) -> None:
        super().__init__(KINDS["models"], f"azureml://registries/{registry}", registry)

    def _type(self, versions: bool) -> str:
        return f"{PROVIDER}/registries/models" + ("/versions" if versions else "")

    def _missing(self, name: str, version: str | None = None) -> Exception:
        what = f"{name}:{version}" if version is not None else name
        return not_found(f"The model asset {what} was not found in registry {self.workspace}.")


@dataclass
class Registry:
    """One Azure ML registry: where it lives, and its model catalog."""

    name: str
    subscription_id: str
    resource_group: str
    location: str
    models: RegistryCatalog = field(init=False)

    def __post_init__(self) -> None:
        self.models = RegistryCatalog(self.name)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/registries/{self.name}"
        )


class Registries:
    """Every registry the service holds, and the requests addressed to them (under the
    store's lock, as every request is)."""

    def __init__(self, store: Store, authority: Authority, base_url: str) -> None:
        self.store, self.authority, self.base_url = store, authority, base_url
        self._registries: dict[str, Registry] = {}

    def add(
        self, name: str, subscription_id: str, resource_group: str, location: str = "westeurope"
    ) -> Registry:
        """A registry (names are unique across the cloud, case-insensitively)."""
        with self.store.lock:
            if name.lower() in self._registries:
                raise ValueError(f"registry {name} is already registered")
            registry = Registry(name, subscription_id, resource_group, location)
            self._registries[name.lower()] = registry
            return registry

    def versions(self, registry: str, name: str) -> list[dict[str, Any]]:
        """Stored model versions of ``name`` in ``registry``, oldest first (inspection)."""
        with self.store.lock:
            return self._registries[registry.lower()].models.versions(
                name, "All", "createdtime asc"
            )

    # -- requests ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply | None:
        """The reply to a registry request, None for any other request."""
        discovery = DISCOVERY.match(request.path)
        if discovery is None and not request.path.lower().startswith(DATA_PLANE):
            return None
        try:
            self.authority.check(request.headers.get("authorization"))
            if not request.api_version:
                raise user_error("The api-version query parameter (?api-version=) is required.")
            if discovery is not None:
                return Reply(200, self._discovery(discovery.group(1)))
            return self._data_plane(request)
        except ServiceError as error:
            headers = {}
            if error.status == 401:
                headers["WWW-Authenticate"] = self.authority.challenge(error)
            return Reply(error.status, error.body(), headers)

    def _registry(self, name: str) -> Registry:
        found = self._registries.get(name.lower())
        if found is None:
            raise not_found(f"Registry {name} could not be found.")
        return found

    def _discovery(self, name: str) -> dict[str, Any]:
        registry = self._registry(name)
        dto = RegistryDiscoveryDto(
            registry_name=registry.name, tenant_id=TENANT, primary_region=registry.location,
            regions=[registry.location], subscription_id=registry.subscription_id,
            resource_group=registry.resource_group,
            primary_region_resource_provider_uri=f"{self.base_url}/",
        )  # fmt: skip
        return dict(dto.as_dict())

    def _data_plane(self, request: Request) -> Reply:
        segments = [s for s in request.path[len(DATA_PLANE) :].split("/") if s]
        prefix = [s.lower() for s in segments[:7:2]]
        if prefix != ["subscriptions", "resourcegroups", "providers", "registries"] or (
            len(segments) < 8 or segments[5].lower() != PROVIDER.lower()
        ):
            raise ServiceError(404, "NotFound", f"No route for {request.method} {request.path}.")
        registry = self._registry(segments[7])
        if (segments[1].lower(), segments[3].lower()) != (
            registry.subscription_id.lower(), registry.resource_group.lower(),
        ):  # fmt: skip
            raise not_found(f"Registry {registry.name} is not in resource group {segments[3]}.")
        rest = segments[8:]
        if rest == ["import"] and request.method == "POST":
            self._import(registry, request.body)
            return Reply(202, None)
        if not rest or rest[0] != "models" or len(rest) > 4 or request.method != "GET":
            raise ServiceError(404, "NotFound", f"No route for {request.method} {request.path}.")
        catalog = registry.models
        if len(rest) == 2:
            return Reply(200, catalog.container(rest[1]))
        if len(rest) == 4:
            return Reply(200, catalog.version(rest[1], rest[3]))
        listed = catalog.versions(rest[1], "ActiveOnly", request.query.get("$orderBy"))
        return Reply(200, _page(request, listed))

    def _import(self, registry: Registry, body: Any) -> None:
        props = body.get("properties") if isinstance(body, dict) else None
        source = _SOURCE.match(str((props or {}).get("sourceAssetId", "")))
        if not isinstance(props, dict) or props.get("referenceType") != "Id" or source is None:
            raise user_error(
                "An import needs properties.referenceType 'Id' and a sourceAssetId "
                "azureml://locations/<region>/workspaces/<id>/models/<n>/versions/<v>."
            )
        guid, name, version = source.groups()
        workspace = next(
            (w for w in self.store._workspaces.values() if w.guid == guid),  # the store's own map
            None,
        )
        if workspace is None:
            raise not_found(f"Workspace {guid} could not be found.")
        stored = workspace.catalogs["models"].version(name, version)  # 404 if absent
        name_to = str(props.get("destinationName") or name)
        version_to = str(props.get("destinationVersion") or version)
        existing = registry.models.containers.get(name_to)
        if existing is not None and version_to in existing.versions:
            raise conflict(f"Model {name_to}:{version_to} already exists in registry "
                           f"{registry.name}; versions cannot be modified.")  # fmt: skip
        kept = ("description", "tags", "properties", "modelType", "flavors", "stage")
        copied = {k: v for k, v in stored["properties"].items() if k in kept}
        copied["modelUri"] = (
            f"azureml://registries/{registry.name}/models/{name_to}/versions/{version_to}"
        )
        registry.models.put_version(name_to, version_to, {"properties": copied})


def _page(request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    top = request.query.get("$top")
    return {"value": items[: int(top)] if top and top.isdigit() else items}
