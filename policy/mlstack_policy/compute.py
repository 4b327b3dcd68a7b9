"""compute-scale-to-zero and compute-max-nodes: clusters cost nothing idle, and are bounded.

An AmlCompute cluster (``properties.computeType: AmlCompute``) declares
``properties.properties.scaleSettings``: ``minNodeCount`` must be 0 (Azure's default), and
``maxNodeCount`` at most the stack's ``mlstack:policySettings.maxComputeNodes``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlstack_policy.resource import COMPUTE, Resource, same
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings


def _cluster(resource: Resource) -> tuple[str, Any, Any] | None:
    """The cluster's name and (min, max) nodes, or None if ``resource`` is no cluster."""
    kind = resource.get("properties", "computeType")
    if resource.type != COMPUTE or not same(kind, "AmlCompute"):
        return None
    scale = resource.get("properties", "properties", "scaleSettings")
    scale = scale if isinstance(scale, Mapping) else {}
    name = resource.get("computeName") or resource.name
    return name, scale.get("minNodeCount"), scale.get("maxNodeCount")


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def check_scale_to_zero(resource: Resource, _settings: Settings) -> Iterator[str]:
    cluster = _cluster(resource)
    if cluster is None:
        return
    name, low, _ = cluster
    if low is not None and _count(low) != 0:
        yield (
            f"{resource.label} keeps {low!r} nodes running when idle (minNodeCount), and pays "
            f"for them. Fix: set `min_instances: 0` in assets/compute/{name}.yaml."
        )


def check_max_nodes(resource: Resource, settings: Settings) -> Iterator[str]:
    cluster = _cluster(resource)
    if cluster is None:
        return
    name, _, high = cluster
    limit = settings.max_compute_nodes
    count = _count(high)
    if count is None or count > limit:
        shown = "no maximum (maxNodeCount)" if high is None else f"up to {high!r} nodes"
        yield (
            f"{resource.label} scales to {shown}; this stack allows at most {limit}. Fix: set "
            f"`max_instances` to {limit} or fewer in assets/compute/{name}.yaml, or raise "
            "`maxComputeNodes` under `mlstack:policySettings` through review."
        )


SCALE_TO_ZERO = Rule(
    "compute-scale-to-zero",
    "Compute clusters scale to zero nodes when idle (min nodes 0).",
    check_scale_to_zero,
)
MAX_NODES = Rule(
    "compute-max-nodes",
    "Compute clusters scale to at most the stack's configured number of nodes.",
    check_max_nodes,
)
