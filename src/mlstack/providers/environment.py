"""The ``EnvironmentVersion`` dynamic resource: an image + conda spec, versioned by content.

The digest covers the image and the parsed conda spec, so an unchanged environment never
gets a new version and editing comments or whitespace in the conda file changes nothing.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from mlstack.config.resources import EnvironmentInputs
from mlstack.providers.asset import OUTPUT_KEYS, ReferencedAssetProvider
from mlstack.workspace import open_workspace


class EnvironmentVersionProvider(ReferencedAssetProvider):
    """CRUD for the current version of one environment."""

    inputs = EnvironmentInputs

    def register(self, inputs: EnvironmentInputs, registered: list[str]) -> dict[str, Any]:
        found, _ = self.registry(open_workspace(inputs.workspace)).register(
            inputs.name, type_="environment", uri=f"azureml:{inputs.name}",
            digest=inputs.digest, properties={"image": inputs.image, "conda": inputs.conda},
            description=inputs.description, tags=inputs.tags,
            version=inputs.version_pin or None,
        )  # fmt: skip
        return self.outputs(inputs, found, [*registered, found.version])


class EnvironmentVersion(Resource, module="mlstack", name="EnvironmentVersion"):
    """An environment whose version follows its image and conda spec."""

    version: pulumi.Output[str]
    reference: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        inputs: EnvironmentInputs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {**inputs.to_props(), **dict.fromkeys(OUTPUT_KEYS), "reference": None}
        super().__init__(EnvironmentVersionProvider(), resource_name, props, opts)
