"""required-tags: everything that takes tags carries the stack's required tags."""

from __future__ import annotations

from dataclasses import replace

from mlstack_policy import tags
from tests.unit.policy.shapes import DYNAMIC, STANDARD, TAGS, cluster, model, resource, storage


def test_resources_with_the_tags_pass() -> None:
    assert tags.RULE.violations(storage(), STANDARD) == []
    assert tags.RULE.violations(cluster(), STANDARD) == []


def test_a_missing_or_empty_tag_is_named_with_the_stack_key_to_set() -> None:
    [message] = tags.RULE.violations(storage(tags={"owner": "ml", "cost-center": " "}), STANDARD)
    assert message.startswith("StorageAccount 'platform-storage' lacks the tag cost-center ")
    assert "(required: owner, cost-center)" in message and "`mlstack:tags`" in message
    [both] = tags.RULE.violations(storage(tags=None), STANDARD)
    assert "lacks the tags owner, cost-center" in both and "add them" in both


def test_the_local_workspace_is_checked_and_asset_versions_are_not() -> None:
    local = resource(f"{DYNAMIC}Workspace", "platform-workspace", {"tags": {"owner": "me"}})
    assert tags.RULE.violations(local, STANDARD)
    assert tags.RULE.violations(model(), STANDARD) == []


def test_any_azure_native_resource_declared_with_tags_is_checked() -> None:
    other = resource("azure-native:network:VirtualNetwork", "vnet", {"tags": {}})
    assert tags.RULE.violations(other, STANDARD)
    untaggable = resource("azure-native:storage:BlobContainer", "c", {"containerName": "c"})
    assert tags.RULE.violations(untaggable, STANDARD) == []


def test_the_required_tags_come_from_the_stack() -> None:
    strict = replace(STANDARD, required_tags=("owner", "data-steward"))
    [message] = tags.RULE.violations(storage(tags=TAGS), strict)
    assert "lacks the tag data-steward" in message
    assert tags.RULE.violations(storage(tags=None), replace(STANDARD, required_tags=())) == []
