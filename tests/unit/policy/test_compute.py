"""compute-scale-to-zero and compute-max-nodes."""

from __future__ import annotations

from dataclasses import replace

from mlstack_policy import compute
from tests.unit.policy.shapes import ML, STANDARD, cluster, resource

SCALE = ("properties", "properties", "scaleSettings")


def scaled(low: float | None, high: float | None) -> dict[str, object]:
    settings = {"minNodeCount": low, "maxNodeCount": high}
    return {"properties": {"properties": {"scaleSettings": settings}}}


def test_a_cluster_scaling_from_zero_to_the_limit_passes() -> None:
    assert compute.SCALE_TO_ZERO.violations(cluster(), STANDARD) == []
    assert compute.MAX_NODES.violations(cluster(), STANDARD) == []


def test_idle_nodes_are_a_violation_naming_the_compute_yaml() -> None:
    [message] = compute.SCALE_TO_ZERO.violations(cluster(**scaled(2.0, 4.0)), STANDARD)
    assert message.startswith("Compute 'platform-compute-cpu-cluster' keeps 2.0 nodes running")
    assert "`min_instances: 0` in assets/compute/cpu-cluster.yaml" in message


def test_an_absent_minimum_is_azures_zero() -> None:
    assert compute.SCALE_TO_ZERO.violations(cluster(**scaled(None, 4.0)), STANDARD) == []


def test_more_nodes_than_the_stack_allows_is_a_violation() -> None:
    [message] = compute.MAX_NODES.violations(cluster(**scaled(0.0, 16.0)), STANDARD)
    assert "scales to up to 16.0 nodes; this stack allows at most 4" in message
    assert "`max_instances` to 4 or fewer in assets/compute/cpu-cluster.yaml" in message
    roomy = replace(STANDARD, max_compute_nodes=16)
    assert compute.MAX_NODES.violations(cluster(**scaled(0.0, 16.0)), roomy) == []


def test_no_maximum_is_a_violation() -> None:
    [message] = compute.MAX_NODES.violations(cluster(**scaled(0.0, None)), STANDARD)
    assert "scales to no maximum (maxNodeCount)" in message


def test_compute_instances_are_not_clusters() -> None:
    box = {"computeType": "ComputeInstance", "properties": {"vmSize": "Standard_DS3_v2"}}
    instance = resource(f"{ML}Compute", "box", {"properties": box})
    assert compute.SCALE_TO_ZERO.violations(instance, STANDARD) == []
    assert compute.MAX_NODES.violations(instance, STANDARD) == []
