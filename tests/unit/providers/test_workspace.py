"""The Workspace provider's methods called directly (no engine), against a real Azurite.

Inputs are the stack, its container and metadata; the home (catalog, Azurite) is found at
run time from ``MLSTACK_HOME``, here the test session's Azurite home.
"""

from __future__ import annotations

import base64
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from mlstack.content.blobstore import BlobEndpoint
from mlstack.project import HOME_ENV
from mlstack.providers.workspace import WorkspaceProvider


@pytest.fixture
def props(
    azurite_home: Path, endpoint: BlobEndpoint, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    monkeypatch.setenv(HOME_ENV, str(azurite_home))
    stack = f"t{uuid.uuid4().hex[:8]}"
    return {
        "stack": stack,
        "container": f"mlstack-{stack}",
        "description": "first",
        "tags": {"env": "test"},
    }


def _containers(endpoint: BlobEndpoint) -> set[str]:
    return {c.name for c in endpoint.client().list_containers()}


def test_check_accepts_valid_inputs_and_fills_defaults(props: dict[str, Any]) -> None:
    del props["description"], props["tags"]
    result = WorkspaceProvider().check({}, props)
    assert result.failures == []
    assert result.inputs["description"] == "" and result.inputs["tags"] == {}


def test_check_reports_each_bad_property() -> None:
    news = {"stack": "bad stack", "container": "Bad_Name", "tags": {"a": 1}}
    failures = {f.property: f.reason for f in WorkspaceProvider().check({}, news).failures}
    assert set(failures) == {"stack", "container", "tags"}
    assert "valid stack name" in failures["stack"]
    assert "3-63 lowercase" in failures["container"]


def test_check_reports_missing_required_properties() -> None:
    failures = {f.property for f in WorkspaceProvider().check({}, {}).failures}
    assert failures == {"stack", "container"}


def test_diff_no_change(props: dict[str, Any]) -> None:
    result = WorkspaceProvider().diff("id", props, dict(props))
    assert result.changes is False and result.replaces == []


@pytest.mark.parametrize("key", ["description", "tags"])
def test_diff_metadata_is_an_in_place_update(props: dict[str, Any], key: str) -> None:
    news = {**props, key: {"env": "other"} if key == "tags" else "second"}
    result = WorkspaceProvider().diff("id", props, news)
    assert result.changes is True and result.replaces == []


@pytest.mark.parametrize("key", ["stack", "container"])
def test_diff_identity_change_replaces_delete_first(props: dict[str, Any], key: str) -> None:
    news = {**props, key: "other-name"}
    result = WorkspaceProvider().diff("id", props, news)
    assert result.changes is True and result.replaces == [key]
    assert result.delete_before_replace is True


def test_diff_of_a_legacy_state_with_another_home_is_no_change(props: dict[str, Any]) -> None:
    """States of the previous release carry the home path; where the checkout and its home
    are today is found at run time, so moving them replaces nothing."""
    legacy = {**props, "home": "/old/checkout/.mlstack"}
    result = WorkspaceProvider().diff("id", legacy, dict(props))
    assert result.changes is False and result.replaces == []


def test_diff_ignores_the_serialized_provider(props: dict[str, Any]) -> None:
    olds = {**props, "__provider": "old-pickle"}
    news = {**props, "__provider": "new-pickle"}
    assert WorkspaceProvider().diff("id", olds, news).changes is False


def test_create_read_update_delete(
    props: dict[str, Any], endpoint: BlobEndpoint, azurite_home: Path
) -> None:
    provider = WorkspaceProvider()
    created = provider.create(props)
    assert created.id == f"local/{props['stack']}"
    outs = created.outs or {}
    assert outs["container"] in _containers(endpoint)
    assert outs["datastore_uri"] == "azureml://datastores/workspaceblobstore"
    assert Path(outs["catalog"]).is_file()
    assert Path(outs["catalog"]).is_relative_to(azurite_home)  # the home MLSTACK_HOME names
    assert "home" not in outs
    assert outs["tags"] == {"env": "test"} and outs["created_at"]

    # create is safe to repeat after a crash left the container behind
    assert provider.create(props).outs == outs

    read = provider.read(created.id, outs)
    assert read.id == created.id and (read.outs or {})["description"] == "first"

    news = {**props, "description": "second", "tags": {"env": "prod"}}
    updated = provider.update(created.id, props, news).outs or {}
    assert updated["description"] == "second" and updated["tags"] == {"env": "prod"}
    assert updated["created_at"] == outs["created_at"]

    provider.delete(created.id, updated)
    assert outs["container"] not in _containers(endpoint)
    assert not Path(outs["catalog"]).exists()
    provider.delete(created.id, updated)  # deleting twice is harmless


def test_read_reports_drift_made_outside_pulumi(props: dict[str, Any]) -> None:
    provider = WorkspaceProvider()
    outs = provider.create(props).outs or {}
    with sqlite3.connect(outs["catalog"]) as db:
        db.execute("UPDATE workspace SET description = 'edited by hand'")
    read = provider.read("id", outs)
    assert (read.outs or {})["description"] == "edited by hand"
    assert (read.inputs or {})["description"] == "edited by hand"
    provider.delete("id", outs)


def test_read_of_a_vanished_container_reports_the_resource_gone(
    props: dict[str, Any], endpoint: BlobEndpoint
) -> None:
    provider = WorkspaceProvider()
    outs = provider.create(props).outs or {}
    endpoint.client().delete_container(outs["container"])
    read = provider.read("id", outs)
    assert read.id == "" and read.outs == {}
    provider.delete("id", outs)


def test_provider_round_trips_through_pulumis_own_serializer() -> None:
    """The engine stores the provider dill-pickled, base64 in state; an importable class
    must travel by reference (its name), not as bytecode that shows as a diff on every edit."""
    text = serialize_provider(WorkspaceProvider())
    blob = base64.b64decode(text)
    assert b"mlstack.providers.workspace" in blob and b"WorkspaceProvider" in blob
    assert len(blob) < 200  # a by-value pickle of the class and its methods is kilobytes
    assert isinstance(dill.loads(blob), WorkspaceProvider)
    assert serialize_provider(WorkspaceProvider()) == text  # deterministic: no spurious diffs
