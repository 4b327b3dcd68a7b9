"""A stack's mlstack settings, validated in one pass.

The values come from ``stacks/Pulumi.<stack>.yaml`` (namespace ``mlstack:``). Unknown
keys are errors, because a misspelt key silently falling back to a default is the worst
kind of configuration bug; every problem is reported together, naming file and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from mlstack.config.azure import AzureSettings
from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.config.naming import (
    NAMESPACE,
    container_for_stack,
    container_problem,
    stack_file,
    stack_problem,
)
from mlstack.config.policy import Enforcement, PolicySettings, Profile, enforcement_problem
from mlstack.config.yamlfile import load_yaml
from mlstack.errors import ConfigError, Problem

__all__ = [
    "NAMESPACE",
    "Promotion",
    "Promotions",
    "StackConfig",
    "load_stack_config",
    "registry_model_uri",
    "stack_file",
    "stack_values",
]


class Promotion(BaseModel):
    """A version promoted from another stack: where from, which version, which content.

    The digest is the review artefact: ``pulumi up`` refuses a source whose content no
    longer matches it, so an edited pin or a changed source can never slip through.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    version: str = Field(pattern=r"^[1-9][0-9]*$")
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    via: Literal["workspace", "registry"] = "workspace"
    """``workspace`` (a pin without ``via``): the target's ``pulumi up`` copies the version
    into its own workspace. ``registry``: the version was shared into the Azure ML registry
    ``registry`` and the target's deployments serve it from there, with no copy."""
    registry: str = ""
    """The Azure ML registry holding the version (``via: registry`` only)."""

    @model_serializer(mode="wrap")
    def _written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A workspace pin is written as before ``via`` existed: ``from``, version, digest."""
        data: dict[str, Any] = handler(self)
        if self.via == "workspace":
            data.pop("via", None)
            data.pop("registry", None)
        return data

    @model_validator(mode="after")
    def _registry_named(self) -> Promotion:
        if self.via == "registry" and not self.registry:
            raise ValueError("`via: registry` needs `registry: <Azure ML registry name>`: run "
                             "`mlstack promote ... --via registry` to set it")  # fmt: skip
        if self.via == "workspace" and self.registry:
            raise ValueError("`registry` is only read with `via: registry`: remove it, or add "
                             "`via: registry`")  # fmt: skip
        return self

    @field_validator("source")
    @classmethod
    def _source_stack(cls, value: str) -> str:
        problem = stack_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def registry_model_uri(registry: str, name: str, version: str) -> str:
    """A model version in an Azure ML registry, as a deployment references it."""
    return f"azureml://registries/{registry}/models/{name}/versions/{version}"


class Promotions(BaseModel):
    """Promoted versions by asset kind and name, as ``mlstack promote`` writes them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: dict[str, Promotion] = Field(default_factory=dict)
    data: dict[str, Promotion] = Field(default_factory=dict)


class StackConfig(BaseModel):
    """Everything the program needs to know about one stack."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    stack: str
    target: Literal["local", "azure"] = "local"
    description: str = Field(default="", max_length=1024)
    tags: dict[str, str] = Field(default_factory=dict)
    container: str = ""
    azure: AzureSettings | None = None  # the azure target's settings: see config.azure
    promotions: Promotions = Field(default_factory=Promotions)
    # "promotion": models enter this stack only through `mlstack promote` (production).
    model_source: Literal["artefact", "promotion"] = "artefact"
    # Guardrails checked by the policy pack in policy/ (see config.policy).
    policy: Profile = "standard"
    policy_enforcement: dict[str, Enforcement] = Field(default_factory=dict)
    policy_settings: PolicySettings = Field(default_factory=PolicySettings)

    @field_validator("stack")
    @classmethod
    def _stack_name(cls, value: str) -> str:
        problem = stack_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("policy_enforcement")
    @classmethod
    def _policy_names(cls, value: dict[str, Enforcement]) -> dict[str, Enforcement]:
        problem = enforcement_problem(dict(value))
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("container")
    @classmethod
    def _container_name(cls, value: str) -> str:
        problem = container_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _azure_settings_for_azure(self) -> StackConfig:
        if self.target == "azure" and self.azure is None:
            raise ValueError(
                "the azure target needs `mlstack:azure` (subscriptionId, resourceGroup, "
                "workspaceName, and to create the estate location, storageAccount, keyVault, "
                "containerRegistry): see stacks/Pulumi.dev.yaml"
            )
        return self

    @field_validator("promotions")
    @classmethod
    def _registry_pins_name_the_registry(
        cls, value: Promotions, info: ValidationInfo
    ) -> Promotions:
        """A ``via: registry`` pin is served from this stack's ``mlRegistry`` (checked after
        ``target`` and ``azure``, which are declared first)."""
        if any(p.via == "registry" for p in value.data.values()):
            raise ValueError(
                "data is promoted workspace to workspace only: remove `via: registry` from "
                "mlstack:promotions.data"
            )
        pinned = {p.registry for p in value.models.values() if p.via == "registry"}
        if not pinned:
            return value
        azure = info.data.get("azure")
        if info.data.get("target") != "azure" or not isinstance(azure, AzureSettings):
            raise ValueError(
                "a `via: registry` pin needs an azure stack (a local stack has no Azure ML "
                "registry): promote without --via registry"
            )
        declared = azure.ml_registry.name if azure.ml_registry else None
        if pinned != {declared}:
            raise ValueError(
                f"the pins name the Azure ML registry {', '.join(sorted(pinned))} but "
                f"`mlstack:azure.mlRegistry` names {declared or 'none'}: declare the registry "
                "(`mlRegistry: {name: ...}`), or promote again with --via registry"
            )
        return value

    @property
    def registry_models(self) -> dict[str, str]:
        """Models pinned ``via: registry``, as deployments name them:
        ``azureml://registries/<registry>/models/<name>/versions/<version>``."""
        return {
            name: registry_model_uri(p.registry, name, p.version)
            for name, p in sorted(self.promotions.models.items())
            if p.via == "registry"
        }

    @property
    def datastore_container(self) -> str:
        """The configured container, else ``mlstack-<stack>``."""
        return self.container or container_for_stack(self.stack)

    @property
    def locator(self) -> LocalLocator | AzureLocator:
        """Where this stack's assets are registered, as its asset resources name it."""
        if self.azure is not None and self.target == "azure":
            return self.azure.locator
        return LocalLocator(stack=self.stack, container=self.datastore_container)


def load_stack_config(stack: str, values: Mapping[str, Any]) -> StackConfig:
    """Validate ``values`` (keys without the ``mlstack:`` prefix) for ``stack``."""
    try:
        return StackConfig.model_validate({"stack": stack, **values})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"])
            reason = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                reason = f"missing: add `{key.rsplit('.', 1)[-1]}:`"
            if item["type"] == "string_pattern_mismatch" and "version" in key:
                reason = "must be a version number such as 3: run `mlstack promote` to set it"
            elif item["type"] == "string_pattern_mismatch" and "digest" in key:
                reason = "must be sha256:<64 hex digits>: run `mlstack promote` to set it"
            if item["type"] == "extra_forbidden":
                reason = "unknown key: remove it or correct its spelling"
            field = (
                "stack name"
                if key == "stack"
                else f"{NAMESPACE}:{key}"
                if key
                else f"{NAMESPACE}:azure"
            )
            problems.append(Problem(stack_file(stack), field, reason))
        raise ConfigError(problems) from None


def stack_values(root: Path, stack: str) -> dict[str, Any]:
    """The stack file's ``mlstack:`` keys, prefix removed (``{}`` when there is no file).

    Read by :class:`mlstack.stack.Stack` alone, the one way the CLI, promotion and
    planning open a stack without running the program.
    """
    path = root / stack_file(stack)
    try:
        raw = load_yaml(path, stack_file(stack)) or {}
    except FileNotFoundError:
        return {}  # no file: the program's defaults (the local target)
    except (OSError, yaml.YAMLError) as error:
        reason = f"unreadable: {str(error).splitlines()[0]}; fix the YAML"
        raise ConfigError([Problem(stack_file(stack), "", reason)]) from None
    config = raw.get("config") if isinstance(raw, dict) else None
    if not isinstance(config, dict):
        return {}
    prefix = f"{NAMESPACE}:"
    return {k.removeprefix(prefix): v for k, v in config.items() if str(k).startswith(prefix)}
