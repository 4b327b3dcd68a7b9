"""The ``azure`` target as the inspection commands see it: an Azure ML workspace via MLClient.

:func:`open_azure` validates the stack's ``mlstack:`` keys (every problem in one
``ConfigError``), signs in with ``DefaultAzureCredential`` and connects
:class:`~mlstack.workspace.azure.AzureMLWorkspace`; connecting sends no request. The
backend's registries read manifests through their workspace (the completion marker in
the datastore), so :class:`AzureAssets` joins the two into the
:class:`~mlstack.workspace.protocol.AssetRegistry` the commands use.

azure-ai-ml takes seconds to import, so it is imported here only when a stack targets
Azure: this module's top level imports none of it, and the local commands stay fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlstack.config.azure import AzureSettings
from mlstack.config.stack import load_stack_config
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import Manifest
from mlstack.errors import WorkspaceError
from mlstack.workspace.asset import AssetVersion
from mlstack.workspace.protocol import Versions

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken

    from mlstack.workspace.azure import AzureMLWorkspace, AzureRegistry

__all__ = ["AzureAssets", "AzureView", "LoginCredential", "open_azure"]


class LoginCredential:
    """A token credential whose sign-in failure reads as one line: run `az login`.

    ``DefaultAzureCredential`` explains a failure with one paragraph per credential it
    tried; the user needs only the fix. The error is raised inside the request pipeline
    and, being an ``MlstackError``, passes through the backend's error translation as is.
    """

    def __init__(self, inner: Any, stack: str) -> None:
        self._inner = inner
        self._stack = stack

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.exceptions import ClientAuthenticationError  # noqa: PLC0415

        try:
            token: AccessToken = self._inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as error:
            raise WorkspaceError(
                f"cannot sign in to Azure for stack {self._stack!r}: run `az login` (or set "
                "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET) and try again"
            ) from error
        return token


class AzureAssets:
    """One kind's registry of an Azure workspace, with its manifests read from the datastore."""

    def __init__(self, workspace: AzureMLWorkspace, registry: AzureRegistry) -> None:
        self._workspace = workspace
        self._registry = registry

    @property
    def kind(self) -> str:
        return self._registry.kind

    def get(self, name: str, version: str | None = None) -> AssetVersion:
        return self._registry.get(name, version)

    def list(self, name: str | None = None) -> Versions:
        return self._registry.list(name)

    def manifest(self, name: str, version: str) -> Manifest:
        return self._workspace.manifest(self.kind, name, version)

    def update(
        self, name: str, version: str, description: str, tags: Mapping[str, str], stage: str = ""
    ) -> AssetVersion:
        return self._registry.update(name, version, description, tags, stage)

    def set_archived(self, name: str, version: str, archived: bool) -> AssetVersion:
        return self._registry.set_archived(name, version, archived)


class AzureView:
    """An Azure stack's workspace: the :class:`~mlstack.workspace.protocol.Workspace` the
    commands read, plus the settings and ``MLClient`` the Azure-only rows come from."""

    def __init__(self, stack: str, settings: AzureSettings, backend: AzureMLWorkspace) -> None:
        self.stack = stack
        self.settings = settings
        self.backend = backend
        self.data = AzureAssets(backend, backend.data)
        self.models = AzureAssets(backend, backend.models)
        self.environments = AzureAssets(backend, backend.environments)

    @property
    def client(self) -> Any:
        """azure-ai-ml's ``MLClient`` (untyped: azure-ai-ml ships no type information)."""
        return self.backend.client

    @property
    def container(self) -> str:
        return self.backend.container  # resolves the datastore: one GET, one listSecrets

    @property
    def endpoint(self) -> BlobEndpoint:
        return self.backend.endpoint

    @property
    def workspace_id(self) -> str:
        s = self.settings
        return (
            f"/subscriptions/{s.subscription_id}/resourceGroups/{s.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{s.workspace_name}"
        )


def open_azure(stack: str, values: Mapping[str, Any]) -> AzureView:
    """The workspace of ``stack``, from its ``mlstack:`` keys (prefix removed)."""
    config = load_stack_config(stack, values)
    if config.azure is None:  # the config's own validator requires it for the azure target
        raise AssertionError("an azure stack's config without azure settings")
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - slow, Azure only

    from mlstack.workspace.azure import AzureMLWorkspace  # noqa: PLC0415 - slow, Azure only

    credential = LoginCredential(DefaultAzureCredential(), stack)
    return AzureView(stack, config.azure, AzureMLWorkspace.connect(config.azure, credential))
