"""The Azure ML registry a stack shares models through (``mlstack:azure.mlRegistry``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from mlstack.config.naming import AZURE_RULES, placeholder_problem

_ML_REGISTRY = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")


class MlRegistrySettings(BaseModel):
    """An Azure ML registry (``Microsoft.MachineLearningServices/registries``) under
    ``mlstack:azure.mlRegistry``: where ``mlstack promote --via registry`` shares models.

    One registry serves several stacks: exactly one stack declares it (``create: true``,
    in its resource group, protected when the stack is); the others name it only. A
    registry name is unique across Azure.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    name: str
    """The registry's name: 3-33 letters, digits, '-' or '_', starting with a letter or digit."""
    create: bool = False
    """This stack declares the registry (one stack does); else it only references it."""
    location: str = ""
    """Primary region (default: the stack's ``location``); ``create: true`` only."""
    replication_locations: tuple[str, ...] = Field(default=())
    """Further regions the registry replicates its assets to (``create: true`` only)."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if problem := placeholder_problem(value):
            raise ValueError(problem)
        if not _ML_REGISTRY.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a valid Azure ML registry name: use 3-33 letters, digits, "
                "'-' or '_', starting with a letter or digit (unique across Azure)"
            )
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        pattern, rule = AZURE_RULES["location"]
        if value and not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a region: use {rule}")
        return value

    @field_validator("replication_locations")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        pattern, rule = AZURE_RULES["location"]
        bad = [region for region in value if not pattern.fullmatch(region)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a region: use {rule}")
        if len(set(value)) != len(value):
            raise ValueError("a region is listed twice: list each once")
        return value

    @model_validator(mode="after")
    def _regions_only_when_created(self) -> MlRegistrySettings:
        if not self.create and (self.location or self.replication_locations):
            raise ValueError(
                "location and replicationLocations belong to the stack that creates the "
                "registry: add `create: true` here, or remove them (this stack only uses it)"
            )
        return self
