"""The ``ModelVersion`` dynamic resource: a training output registered as a model version.

Registration follows the folder's digest like a data asset; the folder must be a
complete training output (marker, metrics, lineage) and no writer may still be at it.
Metrics and lineage are immutable properties of the version; description, tags and
stage change in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from mlstack.config.resources import ModelInputs
from mlstack.content.artefact import read_artefact
from mlstack.providers.asset import OUTPUT_KEYS
from mlstack.providers.folder_asset import FolderAssetProvider


class ModelVersionProvider(FolderAssetProvider):
    inputs = ModelInputs

    def properties(self, root: Path, inputs: ModelInputs) -> dict[str, Any]:
        artefact = read_artefact(root, inputs.spec)
        return {"metrics": artefact.metrics, "lineage": artefact.lineage}


class ModelVersion(Resource, module="mlstack", name="ModelVersion"):
    """A model whose version follows its artefact folder's content."""

    version: pulumi.Output[str]
    uri: pulumi.Output[str]
    digest: pulumi.Output[str]
    metrics_change: pulumi.Output[str]

    def __init__(
        self, resource_name: str, inputs: ModelInputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {**inputs.to_props(), **dict.fromkeys(OUTPUT_KEYS)}
        super().__init__(ModelVersionProvider(), resource_name, props, opts)
