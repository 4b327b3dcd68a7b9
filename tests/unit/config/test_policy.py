"""``mlstack:policy*`` keys: validated with the rest of the stack's config."""

from __future__ import annotations

import pytest

from mlstack.config.policy import DEFAULT_INSTANCE_TYPES
from mlstack.config.stack import load_stack_config
from mlstack.errors import ConfigError


def test_a_stack_without_policy_keys_is_standard_with_the_default_limits() -> None:
    config = load_stack_config("local", {})
    assert (config.policy, config.policy_enforcement) == ("standard", {})
    assert config.policy_settings.max_compute_nodes == 4
    assert config.policy_settings.instance_types == DEFAULT_INSTANCE_TYPES
    assert config.policy_settings.required_tags == ("owner", "cost-center")


def test_the_keys_as_a_stack_file_writes_them() -> None:
    config = load_stack_config("prod", {
        "policy": "prod",
        "policyEnforcement": {"default": "advisory", "required-tags": "mandatory"},
        "policySettings": {"maxComputeNodes": 8, "instanceTypes": ["Standard_F4s_v2"],
                           "requiredTags": ["owner"]},
    })  # fmt: skip
    assert config.policy == "prod"
    assert config.policy_enforcement == {"default": "advisory", "required-tags": "mandatory"}
    assert config.policy_settings.instance_types == ("Standard_F4s_v2",)


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({"policy": "production"}, "mlstack:policy", "'standard' or 'prod'"),
        ({"policyEnforcement": {"required-tag": "advisory"}}, "mlstack:policyEnforcement",
         "unknown policy required-tag: name `default` or one of models-by-promotion"),
        ({"policyEnforcement": {"default": "strict"}}, "mlstack:policyEnforcement.default",
         "'mandatory', 'advisory' or 'disabled'"),
        ({"policySettings": {"maxNodes": 3}}, "mlstack:policySettings.maxNodes", "unknown key"),
        ({"policySettings": {"instanceTypes": []}}, "mlstack:policySettings.instanceTypes",
         "at least 1 item"),
        ({"policySettings": {"maxComputeNodes": -1}}, "mlstack:policySettings.maxComputeNodes",
         "greater than or equal to 0"),
    ],
)  # fmt: skip
def test_a_bad_policy_key_names_the_file_key_and_reason(
    values: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_stack_config("s", values)
    [problem] = caught.value.problems
    assert (problem.file, problem.field) == ("stacks/Pulumi.s.yaml", field)
    assert reason in problem.reason
