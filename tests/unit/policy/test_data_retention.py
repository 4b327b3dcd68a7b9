"""data-versions-archive-only: data versions are archived, never deleted."""

from __future__ import annotations

import pytest

from mlstack_policy import data_retention
from tests.unit.policy.shapes import DYNAMIC, ML, STANDARD, resource


def test_mlstacks_data_assets_archive_on_delete_and_pass() -> None:
    for kind in ("DataAsset", "PromotedData"):
        asset = resource(f"{DYNAMIC}{kind}", "data-digits-train", {"name": "digits-train"})
        assert data_retention.RULE.violations(asset, STANDARD) == []


@pytest.mark.parametrize(
    "kind", ["DataVersion", "DataContainer", "RegistryDataVersion", "RegistryDataContainer"]
)
def test_azure_native_data_resources_are_refused(kind: str) -> None:
    native = resource(f"{ML}{kind}", "raw-data", {"name": "digits-train", "version": "1"})
    [message] = data_retention.RULE.violations(native, STANDARD)
    assert message.startswith(f"{kind} 'raw-data' is an azure-native data resource")
    assert "assets/data/<name>.yaml" in message and "`pulumi state delete`" in message
