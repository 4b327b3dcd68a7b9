"""Which request is which: the ARM paths MLClient sends, dispatched to the store.

Served (under ``/subscriptions/<s>/resourceGroups/<rg>/providers/
Microsoft.MachineLearningServices/workspaces/<w>``; every one needs ``api-version`` and a
bearer token, answered with JSON):

==========================================  ============  ================================
path                                        methods       MLClient call
==========================================  ============  ================================
(the workspace itself)                      GET           ``workspaces.get``
``/datastores``                             GET           ``datastores.list``,
                                                          ``get_default`` (``isDefault``)
``/datastores/<n>``                         GET           ``datastores.get``
``/datastores/<n>/listSecrets``             POST          ``get(..., include_secrets=True)``
``/{data,models,environments}``             GET           ``<kind>.list()`` (containers)
``/<kind>/<n>``                             GET, PUT      ``get(label="latest")`` (data),
                                                          auto-versioning, ``archive(n)``
``/<kind>/<n>/versions``                    GET           ``list(n)``, ``get(label=...)``
``/<kind>/<n>/versions/<v>``                GET, PUT,     ``get``, ``create_or_update``,
                                            DELETE        ``archive`` / ``restore``
==========================================  ============  ================================

Lists page as ARM pages: ``{"value": [...], "nextLink": <absolute URL with $skip>}`` when
more remain (page size: the service's, or ``count`` for datastores); ``$top`` returns
that many and no link. ``GET /metadata/endpoints`` (no token) is the cloud metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.support.azureml.assets import KINDS, PROVIDER, Catalog, view_of
from tests.support.azureml.auth import Authority
from tests.support.azureml.cloud import METADATA_PATH, cloud_metadata
from tests.support.azureml.errors import ServiceError, user_error
from tests.support.azureml.store import Store, Workspace


@dataclass(frozen=True)
class Request:
    """One request as the service received it (``query``: first value of each parameter)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _lower(segments: list[str], index: int) -> str:
    return segments[index].lower() if len(segments) > index else ""


class Router:
    """Turns a :class:`Request` into a :class:`Reply` (callers hold ``store.lock``)."""

    def __init__(self, store: Store, authority: Authority, base_url: str, page_size: int) -> None:
        self.store, self.authority = store, authority
        self.base_url, self.page_size = base_url, page_size

    def handle(self, request: Request) -> Reply:
        try:
            return self._route(request)
        except ServiceError as error:
            headers = {}
            if error.status == 401:
                headers["WWW-Authenticate"] = self.authority.challenge(error)
            return Reply(error.status, error.body(), headers)

    def _route(self, request: Request) -> Reply:
        if request.method == "GET" and request.path.rstrip("/") == METADATA_PATH:
            return Reply(200, cloud_metadata(self.base_url))
        segments = [s for s in request.path.split("/") if s]
        prefix = [_lower(segments, i) for i in (0, 2, 4, 5, 6)]
        if prefix != ["subscriptions", "resourcegroups", "providers", PROVIDER.lower(),
                      "workspaces"] or len(segments) < 8:  # fmt: skip
            raise ServiceError(404, "NotFound", f"No route for {request.method} {request.path}.")
        self.authority.check(request.headers.get("authorization"))
        if not request.api_version:
            raise ServiceError(
                400, "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )  # fmt: skip
        rest = segments[8:]
        workspace = self.store.workspace(segments[1], segments[3], segments[7], nested=bool(rest))
        if not rest:
            return self._only(request, "GET", lambda: Reply(200, workspace.resource()))
        if rest[0].lower() == "datastores":
            return self._datastores(request, workspace, rest[1:])
        if rest[0] in KINDS:
            return self._assets(request, workspace.catalogs[rest[0]], rest[1:])
        raise ServiceError(
            404, "InvalidResourceType",
            f"The resource type '{rest[0]}' could not be found in the namespace '{PROVIDER}' "
            f"for api version '{request.api_version}'.",
        )  # fmt: skip

    @staticmethod
    def _only(request: Request, method: str, answer: Callable[[], Reply]) -> Reply:
        if request.method != method:
            raise ServiceError(
                405, "MethodNotAllowed",
                f"The requested resource does not support http method '{request.method}'.",
            )  # fmt: skip
        return answer()

    # -- paging -----------------------------------------------------------------------------

    def page(self, request: Request, items: list[Any], size: int | None = None) -> Reply:
        """One page of ``items`` from ``$skip``; ``nextLink`` repeats the query further on."""
        size = size or self.page_size
        try:
            start = int(request.query.get("$skip", "0"))
            top = int(request.query["$top"]) if "$top" in request.query else None
        except ValueError as error:
            raise user_error(f"Bad paging parameter: {error}") from error
        if top is not None:
            return Reply(200, {"value": items[start : start + min(top, size)]})
        body: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            query = {k: v for k, v in request.query.items() if k != "$skip"}
            query["$skip"] = str(start + size)
            body["nextLink"] = f"{self.base_url}{request.path}?{urlencode(query)}"
        return Reply(200, body)

    # -- datastores -------------------------------------------------------------------------

    def _datastores(self, request: Request, workspace: Workspace, rest: list[str]) -> Reply:
        if not rest:

            def listed() -> Reply:
                default_only = request.query.get("isDefault", "").lower() == "true"
                try:
                    count = int(request.query.get("count", "30"))
                except ValueError as error:
                    raise user_error(f"Bad count: {error}") from error
                return self.page(request, workspace.list_datastores(default_only), count)

            return self._only(request, "GET", listed)
        if len(rest) == 1:
            return self._only(request, "GET", lambda: Reply(200, workspace.datastore(rest[0])))
        if len(rest) == 2 and rest[1].lower() == "listsecrets":
            return self._only(request, "POST", lambda: Reply(200, workspace.secrets(rest[0])))
        raise ServiceError(404, "NotFound", f"No route for {request.method} {request.path}.")

    # -- assets -----------------------------------------------------------------------------

    def _assets(self, request: Request, catalog: Catalog, rest: list[str]) -> Reply:
        view = request.query.get("listViewType")
        if not rest:
            return self._only(
                request, "GET",
                lambda: self.page(request, catalog.list_containers(view_of(view))),
            )  # fmt: skip
        name = rest[0]
        if len(rest) == 1:
            if request.method == "PUT":
                created, body = catalog.put_container(name, request.body)
                return Reply(201 if created else 200, body)
            return self._only(request, "GET", lambda: Reply(200, catalog.container(name)))
        if rest[1] != "versions" or len(rest) > 3:
            raise ServiceError(404, "NotFound", f"No route for {request.method} {request.path}.")
        return self._versions(request, catalog, name, rest[2] if len(rest) == 3 else None)

    def _versions(
        self, request: Request, catalog: Catalog, name: str, version: str | None
    ) -> Reply:
        if version is None:
            view, order = request.query.get("listViewType"), request.query.get("$orderBy")
            return self._only(
                request, "GET",
                lambda: self.page(request, catalog.versions(name, view_of(view), order)),
            )  # fmt: skip
        if request.method == "PUT":
            created, body = catalog.put_version(name, version, request.body)
            return Reply(201 if created else 200, body)
        if request.method == "DELETE":
            catalog.delete_version(name, version)
            return Reply(200, None)
        return self._only(request, "GET", lambda: Reply(200, catalog.version(name, version)))
