"""endpoint-auth: endpoints authenticate callers with a key or a token."""

from __future__ import annotations

import pytest

from mlstack_policy import endpoint_auth
from tests.unit.policy.shapes import ML, PROD, online_endpoint, resource


@pytest.mark.parametrize("mode", ["Key", "AMLToken", "AADToken", "key"])
def test_key_and_token_auth_pass(mode: str) -> None:
    assert endpoint_auth.RULE.violations(online_endpoint(properties={"authMode": mode}), PROD) == []


def test_no_auth_mode_is_a_violation_naming_the_endpoint_yaml() -> None:
    [message] = endpoint_auth.RULE.violations(online_endpoint(properties={"authMode": None}), PROD)
    assert message.startswith("OnlineEndpoint 'platform-endpoint-digits' declares no auth mode")
    assert "assets/endpoints/digits.yaml" in message


def test_auth_mode_none_on_a_batch_endpoint_is_a_violation() -> None:
    batch = resource(f"{ML}BatchEndpoint", "scoring", {"properties": {"authMode": "None"}})
    [message] = endpoint_auth.RULE.violations(batch, PROD)
    assert "auth mode 'None'" in message
