"""instance-types: compute and deployments use VM sizes from the allow-list."""

from __future__ import annotations

from dataclasses import replace

from mlstack_policy import instance_types
from tests.unit.policy.shapes import ML, STANDARD, cluster, online_deployment, resource


def test_allowed_sizes_pass_in_any_case() -> None:
    assert instance_types.RULE.violations(cluster(), STANDARD) == []
    lower = online_deployment(properties={"instanceType": "standard_ds3_v2"})
    assert instance_types.RULE.violations(lower, STANDARD) == []


def test_a_cluster_of_another_size_is_a_violation_with_the_allow_list() -> None:
    gpu = cluster(properties={"properties": {"vmSize": "Standard_NC24ads_A100_v4"}})
    [message] = instance_types.RULE.violations(gpu, STANDARD)
    assert "uses instance type 'Standard_NC24ads_A100_v4'" in message
    assert "(Standard_DS2_v2, Standard_DS3_v2, Standard_DS4_v2)" in message
    assert "`size` in assets/compute/" in message


def test_deployments_online_and_batch_are_checked() -> None:
    online = online_deployment(properties={"instanceType": "Standard_E64s_v3"})
    assert (
        "`instance_type` in assets/endpoints/"
        in instance_types.RULE.violations(online, STANDARD)[0]
    )
    sized = {"properties": {"resources": {"instanceType": "Standard_E64s_v3"}}}
    batch = resource(f"{ML}BatchDeployment", "batch-blue", sized)
    assert instance_types.RULE.violations(batch, STANDARD)
    allowed = replace(STANDARD, instance_types=("Standard_E64s_v3",))
    assert instance_types.RULE.violations(batch, allowed) == []


def test_a_size_left_to_azure_is_not_a_choice_to_check() -> None:
    unset = online_deployment(properties={"instanceType": None})
    assert instance_types.RULE.violations(unset, STANDARD) == []
