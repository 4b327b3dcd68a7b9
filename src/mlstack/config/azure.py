"""The ``azure`` target's settings: one ``mlstack:azure`` object per stack, validated at once.

Layout in ``stacks/Pulumi.<stack>.yaml`` (camelCase keys, as Pulumi config is written)::

    mlstack:target: azure
    mlstack:azure:
      subscriptionId: 00000000-0000-0000-0000-000000000000   # placeholder: fill in
      resourceGroup: mlstack-dev
      location: westeurope
      workspaceName: mlstack-dev
      storageAccount: <unique-storage-account>               # placeholder: fill in
      keyVault: <unique-key-vault>                           # placeholder: fill in
      containerRegistry: <unique-registry>                   # placeholder: fill in
      publicNetworkAccess: Enabled                           # prod: Disabled
      protect: false                                         # prod: true
      datastoreAuth: identity                                # or accountKey

**Attach mode** (``mode: attach``) names a workspace that exists already — the common case
where a platform team owns it. The stack then declares no azure-native resource, only its
assets (and endpoints, if it declares any); ``subscriptionId``, ``resourceGroup`` and
``workspaceName`` are required, storage, key vault and container registry are not, and assets
go to ``datastoreName`` (default: the workspace's own ``workspaceblobstore``).

``containerRegistry`` is the Azure Container Registry behind the workspace (environment
images). Stacks written before it had that name say ``registry``: still read, with a notice
(:attr:`AzureSettings.notices`) asking to rename it; both keys at once is an error.
An **Azure ML registry** (models shared between workspaces, ``mlstack promote --via
registry``) is the separate ``mlRegistry`` block, see :class:`MlRegistrySettings`.

Azure's naming rules are checked here, before anything is declared, so a bad name fails
the preview with every problem listed (file, key, what to do) instead of failing one
resource at a time half-way through ``pulumi up``. Placeholders — the all-zero GUID and
anything written ``<like-this>`` — are reported as "fill this in", not as bad names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from mlstack.config.locator import AzureLocator
from mlstack.config.ml_registry import MlRegistrySettings
from mlstack.config.naming import AZURE_RULES, NAMESPACE, placeholder_problem, stack_file
from mlstack.errors import ConfigError, Problem

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

KEY = "azure"
"""The config key under the ``mlstack:`` namespace that holds these settings."""

_REQUIRED = ("subscription_id", "resource_group", "workspace_name")
# What creating the estate needs beyond what attaching to a workspace needs.
_CREATE_ONLY = ("location", "storage_account", "key_vault", "container_registry")
LEGACY_REGISTRY_KEY = "registry"
"""The container registry's key before ``containerRegistry`` (still read, with a notice)."""
DEFAULT_DATASTORE = {"create": "mlstack", "attach": "workspaceblobstore"}


class AzureSettings(BaseModel):
    """Where and how an ``azure`` stack's estate is declared."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    mode: Literal["create", "attach"] = "create"
    """``create`` declares the whole estate; ``attach`` uses an existing workspace."""
    subscription_id: str
    """The Azure subscription (a GUID) holding the resource group."""
    resource_group: str
    """Resource group of the workspace (created by the stack in ``create`` mode)."""
    workspace_name: str
    """The Azure ML workspace name."""
    location: str = ""
    """Azure region of every resource, e.g. ``westeurope`` (``create`` mode)."""
    storage_account: str = ""
    """Storage account behind the workspace and its datastore (globally unique)."""
    key_vault: str = ""
    """Key vault the workspace keeps its secrets in (globally unique)."""
    container_registry: str = ""
    """Azure Container Registry for environment images (globally unique); was ``registry``."""
    ml_registry: MlRegistrySettings | None = None
    """An Azure ML registry models are shared through (``mlstack promote --via registry``)."""
    datastore_name: str = ""
    """The blob datastore assets are stored in; default ``mlstack`` (the one ``create``
    declares) or ``workspaceblobstore`` (the workspace's own, in ``attach`` mode)."""
    blob_endpoint: str = ""
    """The datastore account's blob service URL, when it is not
    ``https://<account>.blob.<suffix>`` (custom domains, Azure Stack Hub)."""
    public_network_access: Literal["Enabled", "Disabled"] = "Enabled"
    """``Disabled`` keeps the workspace and endpoints reachable only over private links."""
    protect: bool = False
    """Protect workspace, storage and key vault from ``pulumi destroy`` (prod)."""
    datastore_auth: Literal["identity", "accountKey"] = "identity"
    """``identity``: the workspace identity reads the datastore (no secret anywhere);
    ``accountKey``: the storage key is stored in the datastore (as a Pulumi secret)."""

    @property
    def datastore(self) -> str:
        """The datastore assets are stored in."""
        return self.datastore_name or DEFAULT_DATASTORE[self.mode]

    @property
    def locator(self) -> AzureLocator:
        """Where this stack's assets live, as its asset resources name it."""
        return AzureLocator(
            subscription_id=self.subscription_id, resource_group=self.resource_group,
            workspace=self.workspace_name, datastore=self.datastore,
            blob_endpoint=self.blob_endpoint,
        )  # fmt: skip

    _notices: tuple[str, ...] = PrivateAttr(default=())

    @property
    def notices(self) -> tuple[str, ...]:
        """Deprecation notices for the stack file (an old key that still works)."""
        return self._notices

    @model_validator(mode="wrap")
    @classmethod
    def _legacy_registry(cls, data: Any, handler: ModelWrapValidatorHandler[AzureSettings]) -> Any:
        """``registry`` (the container registry's old key) read as ``containerRegistry``.

        Runs before the create-mode defaults, so an old stack file is never told its
        ``containerRegistry`` is missing."""
        if not isinstance(data, Mapping) or LEGACY_REGISTRY_KEY not in data:
            return handler(data)
        if "containerRegistry" in data or "container_registry" in data:
            reason = (
                "both `registry` (the old name) and `containerRegistry` are set: they name "
                "the same container registry; remove `registry`, keep `containerRegistry`"
            )
            error = InitErrorDetails(
                type=PydanticCustomError("both_registry_keys", reason),
                loc=(LEGACY_REGISTRY_KEY,), input=data[LEGACY_REGISTRY_KEY],
            )  # fmt: skip
            raise ValidationError.from_exception_data(cls.__name__, [error])
        renamed = {("containerRegistry" if k == LEGACY_REGISTRY_KEY else k): v
                   for k, v in data.items()}  # fmt: skip
        try:
            settings = handler(renamed)
        except ValidationError as error:  # problems of the renamed key, on the key as written
            raise ValidationError.from_exception_data(
                cls.__name__, [_legacy_located(item) for item in error.errors()]
            ) from None
        settings._notices = (
            *settings._notices,
            "`mlstack:azure.registry` is deprecated: it names the Azure Container Registry; "
            "rename the key to `containerRegistry` (same value, nothing is replaced). "
            "Azure ML registries are declared under `mlRegistry`",
        )
        return settings

    @model_validator(mode="before")
    @classmethod
    def _create_keys(cls, data: Any) -> Any:
        """In create mode an absent create-only key is validated as empty, so it is reported
        ("missing: add …") on its own key together with every other problem (a default
        skips its field's validator, and a model-level check runs only once all fields
        are valid)."""
        if not isinstance(data, Mapping) or data.get("mode", "create") != "create":
            return data
        absent = [to_camel(k) for k in _CREATE_ONLY if k not in data and to_camel(k) not in data]
        return {**data, **dict.fromkeys(absent, "")}

    @model_validator(mode="after")
    def _registry_created_in_create_mode(self) -> AzureSettings:
        if self.mode == "attach" and self.ml_registry is not None and self.ml_registry.create:
            raise ValueError(
                "mlRegistry.create: an attached stack declares no Azure resource, so it cannot "
                "create the Azure ML registry: create it from a stack with `mode: create`, "
                "or remove `create: true` to only use it"
            )
        return self

    @field_validator("blob_endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not a URL: write it as https://<host>[/<account>]")
        return value.rstrip("/")

    @field_validator("subscription_id")
    @classmethod
    def _guid(cls, value: str) -> str:
        if problem := placeholder_problem(value):
            raise ValueError(problem)
        if not _GUID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a subscription id: use the GUID shown by "
                "`az account show --query id -o tsv`"
            )
        return value.lower()

    @field_validator(*AZURE_RULES)
    @classmethod
    def _named(cls, value: str, info: ValidationInfo) -> str:
        field = info.field_name or ""
        if not value and field in _CREATE_ONLY:
            # Unset is fine in attach mode (or when the mode itself is invalid: reported).
            if info.data.get("mode") != "create":
                return value
            key = to_camel(field)
            raise ValueError(
                f"missing: add `{key}:` under `mlstack:azure` to create the estate, "
                "or set `mode: attach` to use an existing workspace"
            )
        if problem := placeholder_problem(value):
            raise ValueError(problem)
        pattern, rule = AZURE_RULES[field]
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid name: use {rule}")
        return value

    @classmethod
    def from_config(cls, stack: str, values: Mapping[str, Any]) -> AzureSettings:
        """Validate ``values`` (the stack's ``mlstack:`` keys, prefix removed).

        Only ``values["azure"]`` is read; every problem is raised in one ``ConfigError``.
        """
        file = stack_file(stack)
        raw = values.get(KEY)
        if raw is None:
            raise ConfigError(
                [
                    Problem(
                        file,
                        f"{NAMESPACE}:{KEY}",
                        "missing: the azure target needs `mlstack:azure` with "
                        + ", ".join(to_camel(name) for name in _REQUIRED)
                        + ", and to create the estate "
                        + ", ".join(to_camel(name) for name in _CREATE_ONLY)
                        + " (or `mode: attach` to use an existing workspace; see "
                        "stacks/Pulumi.dev.yaml)",
                    )
                ]
            )
        if not isinstance(raw, Mapping):
            raise ConfigError(
                [
                    Problem(
                        file, f"{NAMESPACE}:{KEY}", "not a mapping: write it as `key: value` lines"
                    )
                ]
            )
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as error:
            raise ConfigError(list(_problems(file, error))) from None


def _legacy_located(item: Any) -> InitErrorDetails:
    """``item`` again, placed on ``registry`` if it was found on ``containerRegistry``."""
    loc = tuple(item["loc"])
    if loc[:1] == ("containerRegistry",):
        loc = (LEGACY_REGISTRY_KEY, *loc[1:])
    return InitErrorDetails(
        type=PydanticCustomError(item["type"], item["msg"]), loc=loc, input=item.get("input")
    )


def _problems(file: str, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        field = f"{NAMESPACE}:{KEY}" + (f".{key}" if key else "")
        reason = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            reason = f"missing: add `{key}:` under `mlstack:azure`"
        elif item["type"] == "extra_forbidden":
            reason = "unknown key: remove it or correct its spelling"
        elif item["type"] == "literal_error":
            reason = (
                f"{item['input']!r} is not allowed: {item['msg'].removeprefix('Input should be ')}"
            )
        problems.append(Problem(file, field, reason))
    return problems
