"""The pack's rules, and the program's validation of the keys that configure them, agree."""

from __future__ import annotations

from mlstack.config.policy import DEFAULT_INSTANCE_TYPES, POLICY_NAMES, PROD_POLICIES
from mlstack.config.stack import load_stack_config
from mlstack_policy import settings as pack_settings
from mlstack_policy.catalog import NAMES, RULES


def test_the_program_validates_exactly_the_packs_policy_names() -> None:
    assert POLICY_NAMES == NAMES
    assert tuple(rule.name for rule in RULES if rule.prod_only) == PROD_POLICIES
    assert len(set(NAMES)) == len(NAMES)


def test_the_program_and_the_pack_share_their_defaults() -> None:
    config = load_stack_config("s", {}).policy_settings
    assert config.max_compute_nodes == pack_settings.DEFAULT_MAX_COMPUTE_NODES
    assert config.instance_types == DEFAULT_INSTANCE_TYPES == pack_settings.DEFAULT_INSTANCE_TYPES
    assert config.required_tags == pack_settings.DEFAULT_REQUIRED_TAGS


def test_every_rule_says_what_it_asks_for() -> None:
    for rule in RULES:
        assert rule.description.endswith(".") and len(rule.description) < 140, rule.name
