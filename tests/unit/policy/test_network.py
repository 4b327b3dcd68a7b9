"""no-public-network: workspace, storage, key vault and endpoints are private in prod."""

from __future__ import annotations

import pytest

from mlstack_policy import network
from mlstack_policy.resource import Resource
from tests.unit.policy.shapes import PROD, key_vault, online_endpoint, storage, workspace


@pytest.mark.parametrize(
    "private", [workspace(), storage(), key_vault(), online_endpoint()], ids=lambda r: r.kind
)
def test_private_resources_pass(private: Resource) -> None:
    assert network.RULE.violations(private, PROD) == []


@pytest.mark.parametrize(
    ("public", "where"),
    [
        (workspace(publicNetworkAccess="Enabled"), "publicNetworkAccess is 'Enabled'"),
        (storage(publicNetworkAccess=None), "publicNetworkAccess is not set (Azure's default"),
        (key_vault(properties={"publicNetworkAccess": "enabled"}),
         "properties.publicNetworkAccess is 'enabled'"),
        (online_endpoint(properties={"publicNetworkAccess": "Enabled"}),
         "properties.publicNetworkAccess is 'Enabled'"),
    ],
    ids=["workspace", "storage", "key-vault", "endpoint"],
)  # fmt: skip
def test_public_access_is_named_with_where_it_is_declared_and_the_fix(
    public: Resource, where: str
) -> None:
    [message] = network.RULE.violations(public, PROD)
    assert message.startswith(f"{public.label} allows public network access ({where}")
    assert "`publicNetworkAccess: Disabled` under `mlstack:azure`" in message
