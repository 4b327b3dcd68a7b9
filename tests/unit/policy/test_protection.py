"""protect-stateful: production protects what holds data, models or secrets."""

from __future__ import annotations

import pytest

from mlstack_policy import protection
from mlstack_policy.resource import Resource
from tests.unit.policy.shapes import PROD, cluster, key_vault, resource, storage, workspace


@pytest.mark.parametrize("kept", [workspace(), storage(), key_vault()], ids=lambda r: r.kind)
def test_protected_stateful_resources_pass(kept: Resource) -> None:
    assert protection.RULE.violations(kept, PROD) == []


@pytest.mark.parametrize(
    "bare",
    [workspace(protect=False), storage(protect=False), key_vault(protect=False)],
    ids=lambda r: r.kind,
)
def test_unprotected_stateful_resources_are_violations(bare: Resource) -> None:
    [message] = protection.RULE.violations(bare, PROD)
    assert message.startswith(f"{bare.label} is not protected")
    assert "`protect: true` under `mlstack:azure`" in message


def test_stateless_and_local_resources_need_no_protection() -> None:
    local = resource("pulumi-python:dynamic/mlstack:Workspace", "platform-workspace", {})
    assert protection.RULE.violations(cluster(), PROD) == []
    assert protection.RULE.violations(local, PROD) == []
