"""The ``EnvironmentVersion`` dynamic resource: an image + conda spec, versioned by content.

The digest covers the image and the parsed conda spec, so an unchanged environment never
gets a new version and editing comments or whitespace in the conda file changes nothing.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from mlstack.config.resources import AssetInputs, EnvironmentInputs
from mlstack.content.transfer import TransferReport
from mlstack.providers.asset import OUTPUT_KEYS, AssetProvider
from mlstack.workspace import open_workspace
from mlstack.workspace.asset import AssetVersion


class EnvironmentVersionProvider(AssetProvider):
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

    def outputs(
        self,
        inputs: AssetInputs,
        found: AssetVersion,
        registered: list[str],
        transfer: TransferReport | None = None,
    ) -> dict[str, Any]:
        outs = super().outputs(inputs, found, registered, transfer)
        outs["reference"] = f"azureml:{found.name}:{found.version}"
        return outs


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
