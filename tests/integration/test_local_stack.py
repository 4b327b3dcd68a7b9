"""The local stack's whole lifecycle through the real pulumi engine and a real Azurite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlstack.content.blobstore import BlobEndpoint
from tests.integration.conftest import Pulumi

pytestmark = pytest.mark.integration

WORKSPACE_TYPE = "pulumi-python:dynamic/mlstack:Workspace"


def _containers(endpoint: BlobEndpoint) -> set[str]:
    return {c.name for c in endpoint.client().list_containers()}


def _workspace_step(steps: list[dict[str, object]]) -> dict[str, object]:
    [step] = [
        s for s in steps if str(s.get("urn", "")).endswith(f"{WORKSPACE_TYPE}::platform-workspace")
    ]
    return step


def test_up_preview_update_refresh_destroy(pulumi: Pulumi, endpoint: BlobEndpoint) -> None:
    container = f"mlstack-{pulumi.stack}"

    pulumi.run("up", "--yes")
    outputs = pulumi.outputs()
    assert outputs["container"] == container and outputs["target"] == "local"
    assert outputs["datastore_uri"] == "azureml://datastores/workspaceblobstore"
    assert container in _containers(endpoint)
    catalog = Path(outputs["catalog"])
    assert catalog.is_file()

    # Nothing changed: the engine agrees.
    pulumi.run("preview", "--expect-no-changes")

    # A config change is an in-place update of exactly the workspace, with the new value.
    pulumi.run("config", "set", "mlstack:description", "changed in a test", "--stack", pulumi.stack)
    step = _workspace_step(pulumi.preview_steps())
    assert step["op"] == "update"
    old, new = step["oldState"]["inputs"], step["newState"]["inputs"]  # type: ignore[index]
    assert new["description"] == "changed in a test" != old["description"]
    assert {k for k in new if new[k] != old.get(k)} == {"description"}
    pulumi.run("up", "--yes")
    with sqlite3.connect(catalog) as db:
        assert db.execute("SELECT description FROM workspace").fetchone() == ("changed in a test",)
    pulumi.run("preview", "--expect-no-changes")

    # Drift made outside Pulumi: refresh records it, and the next preview puts it back.
    with sqlite3.connect(catalog) as db:
        db.execute("UPDATE workspace SET description = 'edited by hand'")
    pulumi.run("refresh", "--yes")
    assert _workspace_step(pulumi.preview_steps())["op"] == "update"
    pulumi.run("up", "--yes")
    pulumi.run("refresh", "--yes", "--expect-no-changes")

    pulumi.run("destroy", "--yes")
    assert container not in _containers(endpoint)
    assert not catalog.exists()


def test_bad_config_fails_the_preview_with_every_problem_and_changes_nothing(
    pulumi: Pulumi, endpoint: BlobEndpoint
) -> None:
    pulumi.run("config", "set", "mlstack:target", "moon", "--stack", pulumi.stack)
    pulumi.run("config", "set", "mlstack:contaner", "typo", "--stack", pulumi.stack)
    result = pulumi.run("preview", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    stack_file = f"stacks/Pulumi.{pulumi.stack}.yaml"
    assert "2 problems in the configuration" in output
    assert f"{stack_file}: mlstack:target:" in output
    assert f"{stack_file}: mlstack:contaner: unknown key" in output
    assert "Traceback" not in output
    assert f"mlstack-{pulumi.stack}" not in _containers(endpoint)
