"""The ``DataAsset`` dynamic resource: a folder registered as versioned data.

Everything but the kind is shared with model versions (see ``folder_asset``): the digest
decides, content is transferred and verified before registration, delete archives.
"""

from __future__ import annotations

import pulumi
from pulumi.dynamic import Resource

from mlstack.config.resources import DataInputs
from mlstack.providers.asset import OUTPUT_KEYS
from mlstack.providers.folder_asset import FolderAssetProvider


class DataAssetProvider(FolderAssetProvider):
    inputs = DataInputs


class DataAsset(Resource, module="mlstack", name="DataAsset"):
    """A data asset whose version follows its folder's content."""

    version: pulumi.Output[str]
    uri: pulumi.Output[str]
    digest: pulumi.Output[str]
    files: pulumi.Output[int]
    bytes: pulumi.Output[int]
    changes: pulumi.Output[str]

    def __init__(
        self, resource_name: str, inputs: DataInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {**inputs.to_props(), **dict.fromkeys(OUTPUT_KEYS)}
        super().__init__(DataAssetProvider(), resource_name, props, opts)
