"""storage-no-shared-key: storage read through identities has its account keys off."""

from __future__ import annotations

from dataclasses import replace

from mlstack_policy import shared_keys
from tests.unit.policy.shapes import PROD, key_vault, storage


def test_an_account_with_shared_keys_off_passes() -> None:
    assert shared_keys.RULE.violations(storage(), PROD) == []


def test_shared_keys_left_on_are_a_violation() -> None:
    [message] = shared_keys.RULE.violations(storage(allowSharedKeyAccess=None), PROD)
    assert "StorageAccount 'platform-storage' allows shared-key access" in message
    assert "not set (Azure's default: true)" in message
    assert "`allowSharedKeyAccess: false`" in message
    assert shared_keys.RULE.violations(storage(allowSharedKeyAccess=True), PROD)


def test_a_stack_that_chose_the_account_key_is_not_held_to_it() -> None:
    keyed = replace(PROD, account_key_datastore=True)
    assert shared_keys.RULE.violations(storage(allowSharedKeyAccess=True), keyed) == []


def test_other_resources_are_not_checked() -> None:
    assert shared_keys.RULE.violations(key_vault(), PROD) == []
