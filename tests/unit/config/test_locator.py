"""Locators: where a resource's workspace is, by coordinates only; both state shapes read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mlstack.config.locator import AzureLocator, LocalLocator, locator_of
from mlstack.config.stack import load_stack_config

SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
AZURE = AzureLocator(
    subscription_id=SUBSCRIPTION, resource_group="rg-ml", workspace="ws-ml", datastore="mlstack"
)


def test_legacy_props_parse_to_the_locator_of_the_new_shape() -> None:
    """States of the previous release name the workspace by stack, home and container at
    the top level; the home is machine state and is not part of the locator."""
    legacy = {"stack": "dev", "home": "/home/alice/mlstack/.mlstack", "container": "mlstack-dev"}
    new = {"workspace": {"target": "local", "stack": "dev", "container": "mlstack-dev"}}
    assert (
        locator_of(legacy) == locator_of(new) == LocalLocator(stack="dev", container="mlstack-dev")
    )


def test_a_legacy_state_moved_to_another_home_is_the_same_locator() -> None:
    one = {"stack": "dev", "home": "/old/checkout/.mlstack", "container": "mlstack-dev"}
    other = {**one, "home": "/srv/mlstack-home"}
    assert locator_of(one) == locator_of(other)


def test_legacy_props_without_a_container_leave_it_to_the_catalog() -> None:
    assert locator_of({"stack": "dev"}) == LocalLocator(stack="dev", container="")
    assert locator_of({"stack": "dev", "container": None}).container == ""


def test_outputs_of_either_shape_parse_too() -> None:
    """``locator_of`` reads resource outputs (inputs plus outputs) as well as inputs."""
    outs = {"workspace": AZURE.model_dump(), "name": "digits", "version": "3", "uri": "u"}
    assert locator_of(outs) == AZURE


def test_a_locator_under_another_key() -> None:
    props = {"source_workspace": {"target": "local", "stack": "prod", "container": ""}}
    assert locator_of(props, "source_workspace") == LocalLocator(stack="prod")


def test_no_path_and_no_secret_is_part_of_a_locator() -> None:
    assert set(LocalLocator(stack="dev").model_dump()) == {"target", "stack", "container"}
    assert set(AZURE.model_dump()) == {
        "target", "subscription_id", "resource_group", "workspace", "datastore", "blob_endpoint",
    }  # fmt: skip
    with pytest.raises(ValidationError, match="home"):
        LocalLocator.model_validate({"stack": "dev", "home": "/home/alice/.mlstack"})
    with pytest.raises(ValidationError, match="credential"):
        AzureLocator.model_validate({**AZURE.model_dump(), "credential": "token"})


@pytest.mark.parametrize("locator", [LocalLocator(stack="dev", container="c"), AZURE])
def test_a_locator_round_trips_through_json_deterministically(
    locator: LocalLocator | AzureLocator,
) -> None:
    """What the engine stores and hands back is the same locator, serialised the same."""
    stored = json.loads(json.dumps({"workspace": locator.model_dump(mode="json")}))
    assert locator_of(stored) == locator
    again = type(locator).model_validate_json(locator.model_dump_json())
    assert again.model_dump_json() == locator.model_dump_json()


def test_locators_are_frozen_values() -> None:
    with pytest.raises(ValidationError):
        AZURE.workspace = "other"  # type: ignore[misc]
    same = AzureLocator.model_validate(AZURE.model_dump())
    assert same == AZURE and hash(same) == hash(AZURE)
    assert LocalLocator(stack="dev") != LocalLocator(stack="dev", container="mlstack-dev")


@pytest.mark.parametrize(
    "raw",
    [{"target": "gcp", "stack": "dev"}, {"stack": "dev"}, {"target": "azure", "stack": "dev"}],
    ids=["unknown target", "no target", "azure without coordinates"],
)
def test_a_nested_locator_must_say_its_target_and_coordinates(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        locator_of({"workspace": raw})


def test_the_azure_locator_names_the_workspace_by_its_arm_id() -> None:
    assert AZURE.workspace_id == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml"
        "/providers/Microsoft.MachineLearningServices/workspaces/ws-ml"
    )
    assert AZURE.describe() == "Azure ML workspace 'ws-ml' (resource group 'rg-ml')"
    assert LocalLocator(stack="dev").describe() == "local workspace of stack 'dev'"


def test_a_local_stack_config_locates_its_catalog_and_container() -> None:
    assert load_stack_config("dev", {}).locator == LocalLocator(
        stack="dev", container="mlstack-dev"
    )
    config = load_stack_config("dev", {"container": "team-blobs"})
    assert config.locator == LocalLocator(stack="dev", container="team-blobs")


ATTACH = {"mode": "attach", "subscriptionId": SUBSCRIPTION, "resourceGroup": "rg-ml",
          "workspaceName": "ws-ml"}  # fmt: skip


def test_an_azure_stack_config_locates_its_workspace_and_datastore() -> None:
    azure = {**ATTACH, "blobEndpoint": "https://blobs.example.com/acct"}
    config = load_stack_config("dev", {"target": "azure", "azure": azure})
    assert config.locator == AzureLocator(
        subscription_id=SUBSCRIPTION, resource_group="rg-ml", workspace="ws-ml",
        datastore="workspaceblobstore", blob_endpoint="https://blobs.example.com/acct",
    )  # fmt: skip
    assert config.azure is not None and config.locator == config.azure.locator


def test_an_azure_section_on_a_local_stack_does_not_move_its_assets() -> None:
    config = load_stack_config("dev", {"target": "local", "azure": ATTACH})
    assert config.locator == LocalLocator(stack="dev", container="mlstack-dev")
