"""Promotion through an Azure ML registry (``mlstack promote --via registry``).

The source version is read and checked in the source stack's workspace exactly as for a
workspace → workspace promotion (:class:`~mlstack.promotion.source.WorkspaceSource`: not
archived, gates met, stored content is its digest). Then, before the pin is written, the
version is shared into the target's registry (``mlstack:azure.mlRegistry``) under the same
name and version, with azure-ai-ml's ``models.share`` — the service copies the content
and the version's properties, ``mlstack.digest`` among them. The target's deployments
then serve ``azureml://registries/<registry>/models/<name>/versions/<v>``; nothing is
copied into the target's workspace.

Requests (azure-ai-ml 1.35; the registry's data plane is found by discovery):

1. ``GET <discovery>/registrymanagement/v1.0/registries/<r>/discovery``: the registry's
   subscription, resource group and data-plane URL (404: no such registry);
2. ``GET …/registries/<r>/models/<name>/versions/<v>`` (api-version
   2021-10-01-dataplanepreview): is the version there already, and with which digest;
3. only if it is not: ``GET …/workspaces/<ws>`` (the workspace's GUID and region, for
   the asset id), discovery again, ``POST …/registries/<r>/import`` with the workspace
   asset id (a long-running operation), then the version is read back and its digest
   checked.

The same version with the same digest already in the registry is a no-op; with another
digest it is refused (never overwritten, never re-numbered): versions are write-once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlstack.config.ml_registry import MlRegistrySettings
from mlstack.config.naming import stack_file
from mlstack.errors import MlstackError, PromotionError
from mlstack.promotion.source import WorkspaceSource
from mlstack.stack import Stack
from mlstack.workspace.asset import AssetVersion

__all__ = ["RegistrySource", "SharedVersion", "registry_digest", "registry_of"]

DIGEST = "mlstack.digest"
"""The immutable property every mlstack version carries its digest in."""
REGISTRY_USER = "AzureML Registry User"
"""The built-in role that may read a registry and share assets into it."""

Opener = Callable[[str], Any]
"""Registry name → an ``MLClient`` bound to that registry (tests pass their own)."""


@dataclass(frozen=True)
class SharedVersion:
    """A model version as the registry holds it after ``share``."""

    registry: str
    name: str
    version: str
    digest: str
    already_shared: bool
    """It was in the registry with this digest already: nothing was sent."""

    @property
    def uri(self) -> str:
        return f"azureml://registries/{self.registry}/models/{self.name}/versions/{self.version}"


def registry_of(source: Stack, target: Stack) -> MlRegistrySettings:
    """The Azure ML registry the target serves promoted models from, or why there is none."""
    settings = target.config.azure
    if target.config.target != "azure" or settings is None:
        raise PromotionError(
            source.name, target.name, f"stack {target.name!r} is local: a local stack has no "
            "Azure ML registry to serve models from; promote without --via registry",
        )  # fmt: skip
    if source.config.target != "azure":
        raise PromotionError(
            source.name, target.name, f"stack {source.name!r} is local: only an azure stack's "
            "workspace can share a model into an Azure ML registry; promote from an azure "
            "stack (e.g. `--from dev`)",
        )  # fmt: skip
    if settings.ml_registry is None:
        raise PromotionError(
            source.name, target.name, f"{stack_file(target.name)} declares no Azure ML "
            "registry: add `mlRegistry: {name: <registry>}` under `mlstack:azure` (with "
            "`create: true` in the one stack that creates it, then `pulumi up` that stack), "
            "or promote without --via registry",
        )  # fmt: skip
    return settings.ml_registry


def open_registry(name: str) -> Any:
    """azure-ai-ml's ``MLClient`` for registry ``name``; construction runs the discovery."""
    from azure.ai.ml import MLClient  # noqa: PLC0415 - slow import, Azure only

    from mlstack.workspace.credential import default_credential  # noqa: PLC0415

    return MLClient(default_credential(f"Azure ML registry {name!r}"), registry_name=name)


def registry_digest(
    registry: str, name: str, version: str, *, opener: Opener = open_registry
) -> str | None:
    """The digest registry ``registry`` holds for model ``name:version``; None if it holds
    no such version. The target's preview re-checks a ``via: registry`` pin with it."""
    from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415

    from mlstack.workspace.azure_registry import service_errors  # noqa: PLC0415

    with service_errors(f"reading model {name}:{version} in Azure ML registry {registry!r}"):
        client = opener(registry)
        try:
            model = client.models.get(name, version)
        except ResourceNotFoundError:
            return None
    return str((model.properties or {}).get(DIGEST, ""))


class RegistrySource:
    """A model version of an azure source stack, to be shared into the target's registry."""

    def __init__(
        self, source: Stack, target: Stack, registry: MlRegistrySettings,
        *, opener: Opener = open_registry,
    ) -> None:  # fmt: skip
        self._source = source
        self._target = target
        self._inner = WorkspaceSource(source, target.name)
        self.registry = registry
        self._open = opener
        self._client: Any = None

    @property
    def stack(self) -> str:
        return self._source.name

    def get(self, kind: str, name: str, version: str | None) -> AssetVersion:
        if kind != "model":
            raise self._refuse(
                "only models are promoted through an Azure ML registry: promote data without "
                "--via registry (workspace to workspace)"
            )
        return self._inner.get(kind, name, version)

    def verify(self, found: AssetVersion) -> None:
        self._inner.verify(found)

    # -- the registry ------------------------------------------------------------------------

    def _refuse(self, message: str) -> PromotionError:
        return PromotionError(self.stack, self._target.name, message)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """azure-core / azure-ai-ml errors as promotion refusals that say what to do."""
        from azure.core.exceptions import (  # noqa: PLC0415
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
        )

        name = self.registry.name
        try:
            yield
        except MlstackError as error:  # e.g. the sign-in, already phrased for the user
            raise self._refuse(f"{what}: {error}") from None
        except ResourceNotFoundError as error:
            raise self._refuse(
                f"{what}: the Azure ML registry {name!r} does not exist ({_said(error)}): "
                f"create it first (`create: true` under mlRegistry in the stack that owns it, "
                f"then `pulumi up` that stack), or correct mlstack:azure.mlRegistry.name in "
                f"{stack_file(self._target.name)}"
            ) from None
        except ClientAuthenticationError as error:
            raise self._refuse(
                f"{what}: Azure refused the sign-in ({_said(error)}): run `az login` and try again"
            ) from None
        except ServiceRequestError as error:
            raise self._refuse(
                f"{what}: the Azure ML registry {name!r} cannot be reached ({_said(error)}): "
                "check the network (a registry with publicNetworkAccess Disabled is reached "
                "over its private endpoint) and try again"
            ) from None
        except HttpResponseError as error:
            if error.status_code == 403:
                raise self._refuse(
                    f"{what}: no permission on the Azure ML registry {name!r} ({_said(error)}): "
                    f"ask for the role {REGISTRY_USER!r} on the registry (and AzureML Data "
                    "Scientist on the source workspace), then try again"
                ) from None
            raise self._refuse(f"{what}: the registry answered {error.status_code}: "
                               f"{_said(error)}") from None  # fmt: skip
        except Exception as error:  # azure-ai-ml's own MlException / ValidationException
            if type(error).__module__.startswith("azure."):
                raise self._refuse(f"{what}: {_said(error)}") from None
            raise

    def _registry(self) -> Any:
        if self._client is None:
            with self._errors(f"opening the Azure ML registry {self.registry.name!r}"):
                self._client = self._open(self.registry.name)
            self._check_owner()
        return self._client

    def _check_owner(self) -> None:
        """A registry the target creates must be the one discovery finds: a name held by
        another registry (another subscription or resource group) is taken."""
        settings = self._target.config.azure
        if settings is None or not self.registry.create:
            return
        found = (str(self._client.subscription_id).lower(),
                 str(self._client.resource_group_name).lower())  # fmt: skip
        declared = (settings.subscription_id.lower(), settings.resource_group.lower())
        if found != declared:
            raise self._refuse(
                f"the Azure ML registry name {self.registry.name!r} is taken: it belongs to "
                f"subscription {found[0]}, resource group {found[1]!r}, not to resource group "
                f"{settings.resource_group!r} where {stack_file(self._target.name)} creates it. "
                "Registry names are unique across Azure: choose another for "
                "mlstack:azure.mlRegistry.name (in every stack file that names it), run "
                f"`pulumi up -s {self._target.name}`, then promote again"
            )

    def lookup(self, name: str, version: str) -> str | None:
        """The digest of ``name:version`` in the registry, None if it is not there."""
        from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415

        client = self._registry()
        with self._errors(f"reading model {name}:{version} in registry {self.registry.name!r}"):
            try:
                model = client.models.get(name, version)
            except ResourceNotFoundError:
                return None
        return str((model.properties or {}).get(DIGEST, ""))

    def share(self, found: AssetVersion) -> SharedVersion:
        """``found`` in the registry under its name and version: shared unless it is there
        with the same digest already; refused if it is there with another digest."""
        where = f"model {found.name}:{found.version}"
        present = self.lookup(found.name, found.version)
        if present is None:
            self._share(found)
            present = self.lookup(found.name, found.version)
            if present != found.digest:
                raise self._refuse(
                    f"{where} was shared into registry {self.registry.name!r} but reads back "
                    f"with digest {present or '(none)'}, not {found.digest}: not pinned; "
                    "check the registry version, then promote again"
                )
            return SharedVersion(self.registry.name, found.name, found.version, found.digest,
                                 already_shared=False)  # fmt: skip
        if present != found.digest:
            raise self._refuse(
                f"digest mismatch: registry {self.registry.name!r} already holds {where} with "
                f"digest {present or '(none)'}, but stack {self.stack!r} has {found.digest}. "
                "Registry versions are write-once: another workspace shared a different model "
                "under this version. Register the model again in the source so that it gets a "
                "version the registry does not hold, then promote that version"
            )
        return SharedVersion(self.registry.name, found.name, found.version, found.digest,
                             already_shared=True)  # fmt: skip

    def _share(self, found: AssetVersion) -> None:
        from mlstack.workspace.open import open_service  # noqa: PLC0415

        locator = self._source.locator
        if locator.target != "azure":  # registry_of refuses local sources first
            raise self._refuse(f"stack {self.stack!r} is not an azure stack")
        workspace = open_service(locator)
        what = f"sharing model {found.name}:{found.version} into registry {self.registry.name!r}"
        with self._errors(what):
            workspace.client.models.share(
                found.name, found.version, registry_name=self.registry.name,
                share_with_name=found.name, share_with_version=found.version,
            )  # fmt: skip


def _said(error: BaseException) -> str:
    """The service's (or library's) own one-line reason."""
    detail = getattr(error, "error", None)
    message = getattr(detail, "message", None) or getattr(error, "message", None) or str(error)
    return str(message).strip().splitlines()[0] if str(message).strip() else type(error).__name__
