"""Compute clusters inside an AzurePlatform's workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pulumi_azure_native import machinelearningservices

from mlstack.config.compute import ComputeSpec

if TYPE_CHECKING:
    from mlstack.components.azure_platform import AzurePlatform


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


__all__ = ["declare_compute"]
