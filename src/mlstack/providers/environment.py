"""The ``EnvironmentVersion`` dynamic resource: an image + conda spec, versioned by content.

The digest covers the image and the parsed conda spec, so an unchanged environment never
gets a new version and editing comments or whitespace in the conda file changes nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import Resource

from mlstack.providers.asset import OUTPUT_KEYS, AssetProvider, workspace
from mlstack.workspace.asset import AssetVersion


class EnvironmentVersionProvider(AssetProvider):
    """CRUD for the current version of one environment."""

    kind = "environment"
    required: ClassVar[tuple[str, ...]] = (*AssetProvider.required, "image")

    def register(self, props: dict[str, Any], registered: list[str]) -> dict[str, Any]:
        found, _ = self.registry(workspace(props)).register(
            props["name"], type_="environment", uri=f"azureml:{props['name']}",
            digest=props["digest"], properties={"image": props["image"], "conda": props["conda"]},
            description=props["description"], tags=props["tags"],
            version=props["version_pin"] or None,
        )  # fmt: skip
        return self.outputs(props, found, [*registered, found.version])

    def outputs(
        self, props: dict[str, Any], found: AssetVersion, registered: list[str]
    ) -> dict[str, Any]:
        outs = super().outputs(props, found, registered)
        outs["reference"] = f"azureml:{found.name}:{found.version}"
        return outs


class EnvironmentVersion(Resource, module="mlstack", name="EnvironmentVersion"):
    """An environment whose version follows its image and conda spec."""

    version: pulumi.Output[str]
    reference: pulumi.Output[str]

    def __init__(
        self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        outputs = {**dict.fromkeys(OUTPUT_KEYS), "reference": None}
        super().__init__(EnvironmentVersionProvider(), resource_name, {**props, **outputs}, opts)
