"""Compute clusters and environment versions inside an AzurePlatform's workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import yaml
from pulumi_azure_native import machinelearningservices

from mlstack.config.compute import ComputeSpec
from mlstack.config.environments import EnvironmentSpec

if TYPE_CHECKING:
    from mlstack.components.azure_platform import AzurePlatform

EnvironmentKey = tuple[str, str]
"""(name, version) of a declared environment version."""


def declare_compute(
    platform: AzurePlatform, specs: Sequence[ComputeSpec]
) -> dict[str, machinelearningservices.Compute]:
    """One AmlCompute cluster per spec, scaling between min and max instances."""
    clusters = {}
    for spec in specs:
        clusters[spec.name] = machinelearningservices.Compute(
            f"{platform.prefix}-compute-{spec.name}",
            compute_name=spec.name,
            workspace_name=platform.workspace.name,
            resource_group_name=platform.resource_group.name,
            location=platform.settings.location,
            tags={**platform.tags, **spec.tags},
            properties={
                "compute_type": "AmlCompute",
                "description": spec.description or None,
                # Jobs authenticate with the workspace identity, never with keys.
                "disable_local_auth": True,
                "properties": {
                    "vm_size": spec.size,
                    "vm_priority": spec.tier,
                    "os_type": "Linux",
                    "remote_login_port_public_access": "Disabled",
                    "scale_settings": {
                        "min_node_count": spec.min_instances,
                        "max_node_count": spec.max_instances,
                        "node_idle_time_before_scale_down": spec.idle_duration,
                    },
                },
            },
            opts=platform.child_options(),
        )
    return clusters


def declare_environments(
    platform: AzurePlatform, specs: Sequence[EnvironmentSpec]
) -> dict[EnvironmentKey, machinelearningservices.EnvironmentVersion]:
    """An EnvironmentVersion per environment that pins its ``version``.

    A version is write-once and ARM needs the number up front, so only pinned
    environments are declared here; unpinned ones get their version by content from
    the EnvironmentVersion provider (the workspace backend), as on the local target.
    """
    declared = {}
    for spec in specs:
        if spec.version is None:
            continue
        declared[(spec.name, spec.version)] = machinelearningservices.EnvironmentVersion(
            f"{platform.prefix}-env-{spec.name}-{spec.version}",
            name=spec.name,
            version=spec.version,
            workspace_name=platform.workspace.name,
            resource_group_name=platform.resource_group.name,
            properties={
                "image": spec.image,
                "conda_file": yaml.safe_dump(spec.conda, sort_keys=False),
                "description": spec.description or None,
                "tags": {**spec.tags, "mlstack.digest": spec.digest},
                "os_type": "Linux",
            },
            opts=platform.child_options(),
        )
    return declared


__all__ = ["EnvironmentKey", "declare_compute", "declare_environments"]
