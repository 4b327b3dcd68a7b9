"""The inputs of mlstack's own resources: one typed model per resource kind.

Planning builds them, the providers' ``check`` validates and ``diff`` compares them, the
review reads them out of ``pulumi preview --json``, and the program exports from them —
so a property's name and meaning are written once, here. Each model knows which of its
keys are content (a change registers the next version), which are metadata (changed in
place) and which identify the resource (a change replaces it).

Inputs travel through the engine as plain dicts (:meth:`ResourceInputs.to_props`) and come
back from it with extra keys (outputs of earlier runs) and numbers as doubles, which
parsing (:meth:`ResourceInputs.parse`) tolerates. States written before the workspace
locator existed parse too (see :func:`mlstack.config.locator.locator_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlstack.config.locator import Locator, locator_of

__all__ = [
    "RESOURCE_TYPES",
    "AssetInputs",
    "ComponentInputs",
    "DataInputs",
    "DeploymentInputs",
    "EndpointInputs",
    "EnvironmentInputs",
    "FolderInputs",
    "ModelInputs",
    "PromotedDataInputs",
    "PromotedInputs",
    "PromotedModelInputs",
    "ResourceInputs",
]


class ResourceInputs(BaseModel):
    """What every mlstack resource is declared with: its workspace and its name."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    resource_type: ClassVar[str] = ""
    """The dynamic resource's type name (``DataAsset``, …), as previews report it."""
    section: ClassVar[str] = ""
    """Where a review files a change of this resource."""
    identity_keys: ClassVar[tuple[str, ...]] = ("workspace", "name")
    """A change of these replaces the resource."""

    workspace: Locator
    name: str

    @model_validator(mode="before")
    @classmethod
    def _locate(cls, data: Any) -> Any:
        """Accept inputs of states written before the locator (``stack``/``container``)."""
        if isinstance(data, Mapping) and "workspace" not in data and "stack" in data:
            return {**data, "workspace": locator_of(data).model_dump()}
        return data

    @classmethod
    def parse(cls, props: Mapping[str, Any]) -> Self:
        return cls.model_validate(
            {k: v for k, v in props.items() if k != "__provider" and v is not None}
        )

    def to_props(self) -> dict[str, Any]:
        """The engine's view: a JSON-shaped dict, deterministic key order."""
        return self.model_dump(mode="json")

    def replaces(self, old: ResourceInputs) -> list[str]:
        """The identity keys that differ from ``old``'s."""
        return [k for k in self.identity_keys if getattr(old, k) != getattr(self, k)]


class AssetInputs(ResourceInputs):
    """A versioned asset: its content (by digest) and its mutable metadata."""

    kind: ClassVar[str]
    content_keys: ClassVar[tuple[str, ...]] = ("digest", "version_pin")
    metadata_keys: ClassVar[tuple[str, ...]] = ("description", "tags")

    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    version_pin: str = ""
    """An explicit version from the spec; empty takes the next integer."""

    def content_changed(self, old: AssetInputs) -> list[str]:
        return [k for k in self.content_keys if getattr(old, k, None) != getattr(self, k)]

    def metadata_changed(self, old: AssetInputs) -> list[str]:
        return [k for k in self.metadata_keys if getattr(old, k, None) != getattr(self, k)]


class FolderInputs(AssetInputs):
    """An asset whose content is a folder on this machine (data, model)."""

    content_keys: ClassVar[tuple[str, ...]] = ("digest", "version_pin", "type")

    type: str
    source: str
    """The folder, read at ``pulumi up`` (where content sits here is not desired state)."""
    files: int = 0
    bytes: int = 0


class DataInputs(FolderInputs):
    resource_type: ClassVar[str] = "DataAsset"
    section: ClassVar[str] = "data asset"
    kind: ClassVar[str] = "data"

    changes: str = ""
    """How the content differs from the latest version, e.g. ``1 changed since version 1``."""


class ModelFields(BaseModel):
    """What every model version resource carries beside its content, trained or promoted."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    section: ClassVar[str] = "model"
    kind: ClassVar[str] = "model"
    metadata_keys: ClassVar[tuple[str, ...]] = ("description", "tags", "stage")

    spec: str = ""
    """The model YAML, named in errors about the artefact."""
    properties: dict[str, Any] = Field(default_factory=dict)
    """Metrics and lineage as the preview shows them (registration re-reads its source)."""
    gates: dict[str, float] = Field(default_factory=dict)
    """The model YAML's gates (``mlstack.min.test.accuracy: 0.95``), for the policy pack."""
    metrics_change: str = ""
    stage: str = ""


class ModelInputs(ModelFields, FolderInputs):
    resource_type: ClassVar[str] = "ModelVersion"


class EnvironmentInputs(AssetInputs):
    resource_type: ClassVar[str] = "EnvironmentVersion"
    section: ClassVar[str] = "environment"
    kind: ClassVar[str] = "environment"

    image: str
    conda: Any = None


class ComponentInputs(AssetInputs):
    """A command component: its canonical spec and its code folder, one digest over both."""

    resource_type: ClassVar[str] = "ComponentVersion"
    section: ClassVar[str] = "component"
    kind: ClassVar[str] = "component"

    spec: dict[str, Any] = Field(default_factory=dict)
    """The parsed spec in canonical form (command, inputs, outputs, environment, ...)."""
    code_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    """The code folder's manifest digest, checked again at ``pulumi up``."""
    source: str
    """The code folder, read at ``pulumi up`` (where it sits here is not desired state)."""
    files: int = 0
    bytes: int = 0
    changes: str = ""
    """How it differs from the latest version, e.g. ``code: 2 changed; inputs: +threshold``."""


class PromotedInputs(AssetInputs):
    """A version copied from another stack's workspace, pinned by digest."""

    content_keys: ClassVar[tuple[str, ...]] = (
        "digest", "version_pin", "source_stack", "source_version",
    )  # fmt: skip

    type: str
    source_stack: str
    source_version: str
    source_workspace: Locator
    files: int = 0
    bytes: int = 0

    @model_validator(mode="before")
    @classmethod
    def _source(cls, data: Any) -> Any:
        """States written before the locator name the source by stack only."""
        if isinstance(data, Mapping) and "source_workspace" not in data and "source_stack" in data:
            legacy = {"stack": data["source_stack"]}
            return {**data, "source_workspace": locator_of(legacy).model_dump()}
        return data


class PromotedDataInputs(PromotedInputs):
    resource_type: ClassVar[str] = "PromotedData"
    section: ClassVar[str] = "data asset"
    kind: ClassVar[str] = "data"

    changes: str = ""


class PromotedModelInputs(ModelFields, PromotedInputs):
    """``properties`` are the source version's metrics and lineage."""

    resource_type: ClassVar[str] = "PromotedModel"


class DeploymentInputs(BaseModel):
    """One local deployment: the model content it serves and the code that serves it."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    roll_keys: ClassVar[tuple[str, ...]] = (
        "model_digest", "code_digest", "scoring_script", "environment_variables",
    )  # fmt: skip
    """A change of these starts a new server (``code`` is where the code sits here)."""

    model: str
    model_digest: str
    code: str
    code_digest: str
    scoring_script: str
    environment_variables: dict[str, str] = Field(default_factory=dict)


class EndpointInputs(ResourceInputs):
    resource_type: ClassVar[str] = "LocalEndpoint"
    section: ClassVar[str] = "endpoint"

    traffic: dict[str, int] = Field(default_factory=dict)
    mirror_traffic: dict[str, int] = Field(default_factory=dict)
    deployments: dict[str, DeploymentInputs] = Field(default_factory=dict)
    health: str = "down"
    """Observed by the program, so a preview notices processes that died."""


RESOURCE_TYPES: dict[str, type[ResourceInputs]] = {
    model.resource_type: model
    for model in (
        DataInputs, ModelInputs, EnvironmentInputs, PromotedDataInputs, PromotedModelInputs,
        EndpointInputs, ComponentInputs,
    )
}  # fmt: skip
"""Every mlstack resource's inputs model, by its type name."""
