"""AzureSettings: Azure's naming rules, placeholders and missing values, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlstack.config.azure import AzureSettings, endpoint_name_problem
from mlstack.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
GOOD: dict[str, Any] = {
    "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "resourceGroup": "mlstack-dev",
    "location": "westeurope",
    "workspaceName": "mlstack-dev",
    "storageAccount": "mlstackdev01",
    "keyVault": "mlstack-dev-kv",
    "registry": "mlstackdev01",
}


def settings(**changes: Any) -> AzureSettings:
    return AzureSettings.from_config("dev", {"azure": {**GOOD, **changes}})


def problems(values: dict[str, Any], stack: str = "dev") -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        AzureSettings.from_config(stack, values)
    return {p.field: p.reason for p in caught.value.problems}


def test_valid_settings_have_safe_defaults() -> None:
    s = settings()
    assert s.public_network_access == "Enabled"
    assert s.protect is False
    assert s.datastore_auth == "identity"
    assert s.datastore_name == "mlstack"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("storageAccount", "ab"),
        ("storageAccount", "MLSTACK"),
        ("storageAccount", "ml-stack"),
        ("storageAccount", "a" * 25),
        ("keyVault", "1vault"),
        ("keyVault", "kv--double"),
        ("keyVault", "vault-"),
        ("keyVault", "v" * 25),
        ("workspaceName", "ws"),
        ("workspaceName", "w" * 34),
        ("workspaceName", "-ws"),
        ("registry", "acr1"),
        ("registry", "my-registry"),
        ("resourceGroup", "rg."),
        ("resourceGroup", "r" * 91),
        ("location", "West Europe"),
        ("subscriptionId", "not-a-guid"),
    ],
)
def test_names_breaking_azure_rules_are_rejected(key: str, value: str) -> None:
    found = problems({"azure": {**GOOD, key: value}})
    assert list(found) == [f"mlstack:azure.{key}"]
    assert repr(value) in found[f"mlstack:azure.{key}"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("storageAccount", "abc"),
        ("storageAccount", "a" * 24),
        ("keyVault", "kv1"),
        ("keyVault", "k" + "-a" * 11 + "b"),
        ("workspaceName", "w" * 33),
        ("registry", "a" * 50),
        ("resourceGroup", "r" * 90),
        ("resourceGroup", "rg_(test).x"),
    ],
)
def test_names_at_the_limits_are_accepted(key: str, value: str) -> None:
    assert getattr(settings(**{key: value}), {"storageAccount": "storage_account",
        "keyVault": "key_vault", "workspaceName": "workspace_name", "registry": "registry",
        "resourceGroup": "resource_group"}[key]) == value  # fmt: skip


def test_every_problem_is_reported_together_with_file_and_key() -> None:
    raw = {**GOOD, "storageAccount": "Bad_Name", "registry": "x", "extra": 1}
    del raw["location"]
    with pytest.raises(ConfigError) as caught:
        AzureSettings.from_config("prod", {"azure": raw})
    by_field = {p.field: p for p in caught.value.problems}
    assert set(by_field) == {
        "mlstack:azure.storageAccount",
        "mlstack:azure.registry",
        "mlstack:azure.extra",
        "mlstack:azure.location",
    }
    assert {p.file for p in caught.value.problems} == {"stacks/Pulumi.prod.yaml"}
    assert "missing: add `location:`" in by_field["mlstack:azure.location"].reason
    assert "unknown key" in by_field["mlstack:azure.extra"].reason


def test_missing_azure_section_says_what_to_add() -> None:
    found = problems({"target": "azure"})
    assert list(found) == ["mlstack:azure"]
    assert "subscriptionId" in found["mlstack:azure"]
    assert "storageAccount" in found["mlstack:azure"]


def test_azure_section_must_be_a_mapping() -> None:
    assert "mapping" in problems({"azure": "westeurope"})["mlstack:azure"]


def test_literal_values_are_checked() -> None:
    found = problems({"azure": {**GOOD, "publicNetworkAccess": "Off", "datastoreAuth": "sas"}})
    assert "'Off' is not allowed" in found["mlstack:azure.publicNetworkAccess"]
    assert "'sas' is not allowed" in found["mlstack:azure.datastoreAuth"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_list_every_placeholder(stack: str) -> None:
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    values = {k.removeprefix("mlstack:"): v for k, v in config.items()}
    assert values["target"] == "azure"
    found = problems(values, stack)
    assert set(found) == {
        "mlstack:azure.subscriptionId",
        "mlstack:azure.storageAccount",
        "mlstack:azure.keyVault",
        "mlstack:azure.registry",
    }
    assert all("still the placeholder" in reason for reason in found.values())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_validate_once_filled_in(stack: str) -> None:
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw = dict(config["mlstack:azure"])
    raw.update({k: GOOD[k] for k in ("subscriptionId", "storageAccount", "keyVault", "registry")})
    s = AzureSettings.from_config(stack, {"azure": raw})
    prod = stack == "prod"
    assert s.protect is prod
    assert s.public_network_access == ("Disabled" if prod else "Enabled")


@pytest.mark.parametrize(
    ("name", "valid"),
    [("digits", True), ("abc", True), ("a" * 32, True), ("ab", False), ("a" * 33, False),
     ("1digits", False), ("digits-", False), ("dig_its", False)],
)  # fmt: skip
def test_endpoint_names(name: str, valid: bool) -> None:
    assert (endpoint_name_problem(name) is None) is valid
