"""AzureSettings: Azure's naming rules, placeholders and missing values, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlstack.config.azure import AzureSettings
from mlstack.config.naming import endpoint_name_problem
from mlstack.config.stack import load_stack_config
from mlstack.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
GOOD: dict[str, Any] = {
    "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "resourceGroup": "mlstack-dev",
    "location": "westeurope",
    "workspaceName": "mlstack-dev",
    "storageAccount": "mlstackdev01",
    "keyVault": "mlstack-dev-kv",
    "containerRegistry": "mlstackdev01",
}


def settings(**changes: Any) -> AzureSettings:
    return AzureSettings.from_config("dev", {"azure": {**GOOD, **changes}})


def problems(values: dict[str, Any], stack: str = "dev") -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        AzureSettings.from_config(stack, values)
    return {p.field: p.reason for p in caught.value.problems}


def test_valid_settings_have_safe_defaults() -> None:
    s = settings()
    assert s.mode == "create"
    assert s.public_network_access == "Enabled"
    assert s.protect is False
    assert s.datastore_auth == "identity"
    assert s.datastore_name == "" and s.datastore == "mlstack"  # the one create declares
    assert s.blob_endpoint == ""


ATTACH = {k: GOOD[k] for k in ("subscriptionId", "resourceGroup", "workspaceName")}


def test_attach_mode_needs_only_the_workspace_coordinates() -> None:
    s = AzureSettings.from_config("dev", {"azure": {**ATTACH, "mode": "attach"}})
    assert s.mode == "attach"
    assert (s.location, s.storage_account, s.key_vault, s.container_registry) == ("", "", "", "")
    assert s.datastore == "workspaceblobstore"  # the workspace's own datastore
    assert s.locator.model_dump() == {
        "target": "azure", "subscription_id": GOOD["subscriptionId"],
        "resource_group": "mlstack-dev", "workspace": "mlstack-dev",
        "datastore": "workspaceblobstore", "blob_endpoint": "",
    }  # fmt: skip


def test_attach_mode_takes_a_named_datastore_and_blob_endpoint() -> None:
    azure = {**ATTACH, "mode": "attach", "datastoreName": "team_blobs",
             "blobEndpoint": "https://blobs.example.com/team/"}  # fmt: skip
    s = AzureSettings.from_config("dev", {"azure": azure})
    assert (s.locator.datastore, s.locator.blob_endpoint) == (
        "team_blobs", "https://blobs.example.com/team",
    )  # fmt: skip


def test_a_blob_endpoint_must_be_a_url() -> None:
    found = problems({"azure": {**ATTACH, "mode": "attach", "blobEndpoint": "blobs.example"}})
    assert list(found) == ["mlstack:azure.blobEndpoint"]
    assert "is not a URL" in found["mlstack:azure.blobEndpoint"]


def test_create_mode_names_each_missing_key_and_the_attach_alternative() -> None:
    found = problems({"azure": ATTACH})
    create_only = ("location", "storageAccount", "keyVault", "containerRegistry")
    assert set(found) == {f"mlstack:azure.{k}" for k in create_only}
    for key, reason in found.items():
        assert reason.startswith(f"missing: add `{key.rsplit('.', 1)[1]}:` under `mlstack:azure`")
        assert "`mode: attach`" in reason


def test_create_mode_is_checked_when_built_in_code_too() -> None:
    with pytest.raises(ValueError, match="set `mode: attach`"):
        AzureSettings(subscription_id=GOOD["subscriptionId"], resource_group="rg",
                      workspace_name="ws-dev")  # fmt: skip


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
        ("containerRegistry", "acr1"),
        ("containerRegistry", "my-registry"),
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
        ("containerRegistry", "a" * 50),
        ("resourceGroup", "r" * 90),
        ("resourceGroup", "rg_(test).x"),
    ],
)
def test_names_at_the_limits_are_accepted(key: str, value: str) -> None:
    assert getattr(settings(**{key: value}), {"storageAccount": "storage_account",
        "keyVault": "key_vault", "workspaceName": "workspace_name",
        "containerRegistry": "container_registry", "resourceGroup": "resource_group",
    }[key]) == value  # fmt: skip


def test_every_problem_is_reported_together_with_file_and_key() -> None:
    raw = {**GOOD, "storageAccount": "Bad_Name", "containerRegistry": "x", "extra": 1}
    del raw["location"]
    with pytest.raises(ConfigError) as caught:
        AzureSettings.from_config("prod", {"azure": raw})
    by_field = {p.field: p for p in caught.value.problems}
    assert set(by_field) == {
        "mlstack:azure.storageAccount",
        "mlstack:azure.containerRegistry",
        "mlstack:azure.extra",
        "mlstack:azure.location",
    }
    assert {p.file for p in caught.value.problems} == {"stacks/Pulumi.prod.yaml"}
    assert "missing: add `location:`" in by_field["mlstack:azure.location"].reason
    assert "unknown key" in by_field["mlstack:azure.extra"].reason


def test_missing_azure_section_says_what_to_add() -> None:
    found = problems({"target": "azure"})
    assert list(found) == ["mlstack:azure"]
    for key in ("subscriptionId", "resourceGroup", "workspaceName", "storageAccount"):
        assert key in found["mlstack:azure"]
    assert "`mode: attach`" in found["mlstack:azure"]


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
        "mlstack:azure.containerRegistry",
    }
    assert all("still the placeholder" in reason for reason in found.values())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_validate_once_filled_in(stack: str) -> None:
    config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw = dict(config["mlstack:azure"])
    filled = ("subscriptionId", "storageAccount", "keyVault", "containerRegistry")
    raw.update({k: GOOD[k] for k in filled})
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


def test_a_stack_file_reports_missing_create_keys_with_the_bad_names() -> None:
    """The program and the CLI validate the settings inside the stack's config: there too
    a missing create-mode key is reported on its key, beside every other problem."""
    with pytest.raises(ConfigError) as caught:
        load_stack_config("dev", {"target": "azure", "azure": {**ATTACH, "containerRegistry": "x"}})
    found = {p.field: p.reason for p in caught.value.problems}
    create_only = ("location", "storageAccount", "keyVault", "containerRegistry")
    assert set(found) == {f"mlstack:azure.{k}" for k in create_only}
    assert "not a valid name" in found["mlstack:azure.containerRegistry"]
    assert "`mode: attach`" in found["mlstack:azure.location"]


# -- the container registry's old key -------------------------------------------------------

LEGACY = {**{k: v for k, v in GOOD.items() if k != "containerRegistry"}, "registry": "mlstackdev01"}


def test_the_old_registry_key_still_names_the_container_registry_with_a_notice() -> None:
    old = AzureSettings.from_config("dev", {"azure": LEGACY})
    assert old.container_registry == "mlstackdev01"
    assert old.model_dump() == settings().model_dump()  # the same settings as the new key
    (notice,) = old.notices
    assert "`mlstack:azure.registry` is deprecated" in notice
    assert "rename the key to `containerRegistry`" in notice
    assert settings().notices == ()


def test_both_registry_keys_at_once_is_an_error_naming_the_file_and_key() -> None:
    found = problems({"azure": {**LEGACY, "containerRegistry": "mlstackdev02"}}, "prod")
    assert list(found) == ["mlstack:azure.registry"]
    assert "keep `containerRegistry`" in found["mlstack:azure.registry"]
    with pytest.raises(ConfigError) as caught:
        AzureSettings.from_config("prod", {"azure": {**LEGACY, "containerRegistry": "x"}})
    assert caught.value.problems[0].file == "stacks/Pulumi.prod.yaml"


def test_a_bad_value_under_the_old_key_is_reported_on_that_key() -> None:
    found = problems({"azure": {**LEGACY, "registry": "my-registry", "keyVault": "1vault"}})
    assert set(found) == {"mlstack:azure.registry", "mlstack:azure.keyVault"}
    assert "'my-registry' is not a valid name" in found["mlstack:azure.registry"]


# -- the Azure ML registry ------------------------------------------------------------------


def test_an_ml_registry_block_is_its_own_key_with_defaults() -> None:
    block = {"name": "mlstack-shared", "create": True, "location": "westeurope",
             "replicationLocations": ["northeurope", "swedencentral"]}  # fmt: skip
    s = settings(mlRegistry=block)
    assert s.ml_registry is not None and s.container_registry == "mlstackdev01"
    assert (s.ml_registry.name, s.ml_registry.create) == ("mlstack-shared", True)
    assert s.ml_registry.replication_locations == ("northeurope", "swedencentral")
    used = settings(mlRegistry={"name": "mlstack-shared"}).ml_registry
    assert used is not None and (used.create, used.location) == (False, "")
    assert settings().ml_registry is None


@pytest.mark.parametrize(
    ("name", "valid"),
    [("abc", True), ("a" * 33, True), ("1reg_ist-ry", True), ("ab", False),
     ("a" * 34, False), ("-reg", False), ("_reg", False), ("reg.istry", False),
     ("reg istry", False)],
)  # fmt: skip
def test_ml_registry_names_follow_azure_rules(name: str, valid: bool) -> None:
    if valid:
        assert settings(mlRegistry={"name": name}).ml_registry is not None
        return
    found = problems({"azure": {**GOOD, "mlRegistry": {"name": name}}})
    assert list(found) == ["mlstack:azure.mlRegistry.name"]
    assert "3-33 letters, digits, '-' or '_'" in found["mlstack:azure.mlRegistry.name"]


def test_ml_registry_problems_are_listed_together() -> None:
    block = {"name": "<unique-ml-registry>", "replicationLocations": ["North Europe"], "sku": 1}
    found = problems({"azure": {**GOOD, "mlRegistry": block}})
    assert set(found) == {"mlstack:azure.mlRegistry.name",
                          "mlstack:azure.mlRegistry.replicationLocations",
                          "mlstack:azure.mlRegistry.sku"}  # fmt: skip
    assert "still the placeholder" in found["mlstack:azure.mlRegistry.name"]


def test_regions_belong_to_the_stack_that_creates_the_registry() -> None:
    found = problems({"azure": {**GOOD, "mlRegistry": {"name": "shared", "location": "eastus"}}})
    assert "add `create: true`" in found["mlstack:azure.mlRegistry"]
