"""AzureMLWorkspace: the ``azure`` target's asset registry, on azure-ai-ml's ``MLClient``.

The same interface and semantics as :class:`mlstack.workspace.local.LocalWorkspace`:
``data``, ``models`` and ``environments`` are registries with ``register / get / list /
manifest / update / set_archived / register``, plus the ``*_data`` helpers and
``stored_content()``. Content never goes through azure-ai-ml's uploader:
:func:`mlstack.workspace.register.register_folder` resolves the datastore (``GET
datastores/<name>``, ``POST .../listSecrets``), moves the folder with
:func:`mlstack.content.transfer.upload` to ``LocalUpload/<hex digest>/<name>/`` (only what
the datastore lacks, completion marker last), and only then PUTs the version with the
``azureml://datastores/<ds>/paths/LocalUpload/<hex>/<name>/`` path. The marker holds the
manifest, so ``manifest()`` reads it back from the datastore.

Building the client makes no request; every call is one or a few ARM requests (see
``docs/azure.md``, "What mlstack sends"). Tests pass ``transport=`` (a requests session
with a canned adapter) and ``blob_url=`` (Azurite) to :meth:`AzureMLWorkspace.connect`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.ai.ml import MLClient
from azure.core.exceptions import ResourceNotFoundError

from mlstack.config.azure import AzureSettings
from mlstack.config.locator import AzureLocator
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.completion import Known, read_sealed
from mlstack.content.manifest import Manifest
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.workspace.asset import (
    KNOWN_VERSIONS,
    DataVersion,
    content_digest,
    datastore_uri,
    upload_prefix,
)
from mlstack.workspace.azure_components import AzureComponentRegistry
from mlstack.workspace.azure_datastore import Datastore, resolve_datastore
from mlstack.workspace.azure_registry import AzureRegistry, service_errors

__all__ = ["AzureMLWorkspace", "AzureRegistry", "Datastore"]


class AzureMLWorkspace:
    """One Azure ML workspace, reached with ``client``; content in datastore ``datastore``.

    ``datastore`` None means the workspace's default datastore. ``identity`` signs blob
    requests when the datastore keeps no key or SAS (identity-based access).
    """

    def __init__(
        self,
        client: MLClient,
        *,
        datastore: str | None = None,
        identity: Any = None,
        blob_url: str | None = None,
        threads: int = 8,
    ) -> None:
        self.client = client
        self.data = AzureRegistry(client.data, "data", self.manifest)
        self.models = AzureRegistry(client.models, "model", self.manifest)
        self.environments = AzureRegistry(client.environments, "environment", self.manifest)
        self.components = AzureComponentRegistry(client, self.manifest)
        self._datastore_name = datastore
        self._identity = identity
        self._blob_url = blob_url
        self._store: Datastore | None = None
        self.threads = threads

    @classmethod
    def connect(
        cls,
        settings: AzureSettings,
        credential: Any,
        *,
        transport: Any = None,
        blob_url: str | None = None,
    ) -> AzureMLWorkspace:
        """The workspace an ``azure`` stack declares; ``credential`` has ``get_token()``
        (``azure.identity.DefaultAzureCredential()`` after ``az login``)."""
        extra: dict[str, Any] = {"transport": transport} if transport is not None else {}
        client = MLClient(
            credential,
            subscription_id=settings.subscription_id,
            resource_group_name=settings.resource_group,
            workspace_name=settings.workspace_name,
            **extra,
        )
        return cls(client, datastore=settings.datastore, identity=credential,
                   blob_url=blob_url or settings.blob_endpoint or None)  # fmt: skip

    @classmethod
    def at(cls, locator: AzureLocator, credential: Any) -> AzureMLWorkspace:
        """The workspace ``locator`` names, signed in with ``credential``."""
        client = MLClient(
            credential,
            subscription_id=locator.subscription_id,
            resource_group_name=locator.resource_group,
            workspace_name=locator.workspace,
        )
        return cls(client, datastore=locator.datastore or None, identity=credential,
                   blob_url=locator.blob_endpoint or None)  # fmt: skip

    # -- the datastore --------------------------------------------------------------------

    @property
    def store(self) -> Datastore:
        """The resolved datastore, read (with its secret) once per workspace object."""
        if self._store is None:
            what = f"reading datastore {self._datastore_name or '(default)'}"
            with service_errors(what):
                self._store = resolve_datastore(
                    self.client, self._datastore_name, self._identity, self._blob_url
                )
        return self._store

    @property
    def endpoint(self) -> BlobEndpoint:
        return self.store.endpoint

    @property
    def container(self) -> str:
        return self.store.container

    @property
    def datastore(self) -> str:
        return self._datastore_name or self.store.name

    def exists(self) -> bool:
        """One GET of the workspace; a 404 means it is not created yet."""
        with service_errors(f"reading workspace {self.client.workspace_name}"):
            try:
                self.client.workspaces.get(self.client.workspace_name)
            except ResourceNotFoundError:
                return False
        return True

    def uri(self, prefix: str) -> str:
        """``azureml://datastores/<this datastore>/paths/<prefix>/``."""
        return datastore_uri(prefix, self.datastore)

    def registry(self, kind: str) -> AzureRegistry:
        registries: dict[str, AzureRegistry] = {
            "data": self.data, "model": self.models, "environment": self.environments,
            "component": self.components,
        }  # fmt: skip
        if kind not in registries:
            raise WorkspaceError(
                f"unknown asset kind {kind!r}: use data, model, environment or component"
            )
        return registries[kind]

    def manifest(self, kind: str, name: str, version: str) -> Manifest:
        """The files of a stored version, read from its completion marker."""
        found = self.registry(kind).get(name, version)
        digest = content_digest(found)
        prefix = upload_prefix(digest, name)
        sealed = read_sealed(self.endpoint, self.container, prefix) if found.files else None
        manifest = sealed.manifest if sealed else None
        if manifest is None:
            raise NotFoundError(
                f"{kind} asset {name}:{version} has no files in this workspace's datastore"
            )
        if manifest.digest != digest:
            raise WorkspaceError(
                f"{kind} asset {name}:{version}: the datastore's manifest has digest "
                f"{manifest.digest}, the version says {digest}; its files were changed "
                "outside mlstack: register the folder again"
            )
        return manifest

    def stored_content(self, name: str | None = None, kind: str | None = None) -> Known:
        """sha256 → a blob holding it, with its recorded ETag, from the newest versions of
        each data/model name.

        One listing per name and one marker read per version: pass ``name`` and ``kind``
        to limit it.
        """
        known = Known()
        registries = [self.registry(kind)] if kind else [self.data, self.models]
        for registry in registries:
            versions = registry.list(name)
            for each in sorted({v.name for v in versions}):
                named = [v for v in reversed(versions) if v.name == each and v.files]
                for version in named[:KNOWN_VERSIONS]:
                    prefix = upload_prefix(content_digest(version), version.name)
                    sealed = read_sealed(self.endpoint, self.container, prefix)
                    if sealed is not None:
                        known.add(prefix, sealed.manifest, sealed.etags)
        return known

    # -- content + registration -----------------------------------------------------------

    # -- data, read as the service's data operations (as LocalWorkspace offers them) ------

    def register_data(
        self,
        name: str,
        *,
        type_: str,
        uri: str,
        manifest: Manifest,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        version: str | None = None,
    ) -> tuple[DataVersion, bool]:
        """Register content already stored at ``uri`` (see :meth:`register_folder`)."""
        return self.data.register(
            name, type_=type_, uri=uri, digest=manifest.digest, manifest=manifest,
            description=description, tags=tags, version=version,
        )  # fmt: skip

    def get_data(self, name: str, version: str | None = None) -> DataVersion:
        return self.data.get(name, version)

    def list_data(self, name: str | None = None) -> list[DataVersion]:
        return self.data.list(name)

    def data_manifest(self, name: str, version: str) -> Manifest:
        return self.manifest("data", name, version)

    def update_data(
        self, name: str, version: str, description: str, tags: Mapping[str, str]
    ) -> DataVersion:
        return self.data.update(name, version, description, tags)

    def set_data_archived(self, name: str, version: str, archived: bool) -> DataVersion:
        return self.data.set_archived(name, version, archived)
