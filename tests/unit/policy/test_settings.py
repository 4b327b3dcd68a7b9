"""The stack's ``mlstack:policy*`` keys as the pack reads them, and enforcement per policy."""

from __future__ import annotations

from mlstack_policy.settings import (
    DEFAULT_INSTANCE_TYPES,
    DEFAULT_MAX_COMPUTE_NODES,
    DEFAULT_REQUIRED_TAGS,
    Settings,
)


def test_a_stack_with_no_policy_keys_gets_the_defaults() -> None:
    settings = Settings.from_config({}, stack="local")
    assert settings == Settings(stack="local")
    assert (settings.profile, settings.max_compute_nodes) == ("standard", 4)
    assert settings.instance_types == DEFAULT_INSTANCE_TYPES
    assert settings.required_tags == ("owner", "cost-center")


def test_the_keys_as_the_stack_file_writes_them() -> None:
    settings = Settings.from_config({
        "policy": "prod",
        "policyEnforcement": {"default": "advisory", "required-tags": "mandatory"},
        "policySettings": {"maxComputeNodes": 8, "instanceTypes": ["Standard_F4s_v2"],
                           "requiredTags": []},
        "azure": {"datastoreAuth": "accountKey"},
    }, stack="prod")  # fmt: skip
    assert settings.prod and settings.max_compute_nodes == 8
    assert settings.instance_types == ("Standard_F4s_v2",)
    assert settings.required_tags == ()  # none required
    assert settings.account_key_datastore


def test_enforcement_defaults_to_mandatory_and_prod_rules_are_off_elsewhere() -> None:
    standard = Settings(enforcement={"compute-max-nodes": "advisory"})
    assert standard.level("required-tags", prod_only=False) == "mandatory"
    assert standard.level("compute-max-nodes", prod_only=False) == "advisory"
    assert standard.level("models-by-promotion", prod_only=True) == "disabled"
    prod = Settings(profile="prod", enforcement={"default": "advisory"})
    assert prod.level("models-by-promotion", prod_only=True) == "advisory"


def test_values_the_program_rejects_fall_back_instead_of_stopping_the_pack() -> None:
    settings = Settings.from_config({
        "policy": "production",
        "policyEnforcement": {"required-tags": "strict"},
        "policySettings": {"maxComputeNodes": -1, "instanceTypes": [], "requiredTags": "owner"},
    })  # fmt: skip
    assert settings.profile == "standard" and settings.enforcement == {}
    assert settings.max_compute_nodes == DEFAULT_MAX_COMPUTE_NODES
    assert settings.instance_types == DEFAULT_INSTANCE_TYPES
    assert settings.required_tags == DEFAULT_REQUIRED_TAGS
