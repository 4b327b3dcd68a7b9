"""Stacks made by the previous release upgrade to today's code without a replacement.

``tests/fixtures/state-v0`` holds the states (and workspace catalogs) of two stacks that
the previous release brought up — a local stack with data, environment and model
versions, and a second stack with a promoted model and promoted data. Their inputs name
the workspace by an absolute ``home`` that this machine does not have, as after moving a
checkout. Today's program must see nothing to do, and ``up`` must move the state to the
new input shape without touching a resource.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlstack.project import Project
from mlstack.services.azurite import ServiceState
from tests.integration.conftest import Pulumi, add_data, new_stack

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "state-v0"
STACKS = ("upgrade", "upgrade-prod")


def _resources(cli: Pulumi) -> dict[str, dict[str, Any]]:
    state = json.loads(cli.run("stack", "export", "--stack", cli.stack).stdout)
    return {r["urn"].rsplit("::", 1)[1]: r for r in state["deployment"]["resources"]}


def test_stacks_of_the_previous_release_upgrade_with_no_replacement(
    tmp_path: Path, project: Project, azurite: ServiceState, azurite_home: Path, digits: Path
) -> None:
    for stack in STACKS:  # the workspaces those stacks created, as their catalogs hold them
        catalog = azurite_home / "stacks" / stack / "workspace.db"
        catalog.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURE / f"{stack}.workspace.db", catalog)
    source = new_stack(
        project.root, tmp_path / "project", azurite_home,
        (FIXTURE / "Pulumi.upgrade.yaml").read_text(), stack="upgrade",
    )  # fmt: skip
    add_data(source, project, digits)
    # The environment as that release shipped it: a later change to it is a new version,
    # which is not what this test is about.
    shutil.copytree(FIXTURE / "environments", source.cwd / "assets" / "environments")
    shutil.copytree(project.root / "assets" / "models", source.cwd / "assets" / "models")
    shutil.copytree(FIXTURE / "artefact", source.cwd / "outputs" / "digits-cnn")
    prod = Pulumi(source.cwd, source.env, "upgrade-prod")
    shutil.copy(FIXTURE / "Pulumi.upgrade-prod.yaml", source.cwd / "stacks")
    prod.run("stack", "init", "upgrade-prod")

    for cli in (source, prod):
        cli.run(
            "stack",
            "import",
            "--file",
            str(FIXTURE / f"{cli.stack}.state.json"),
            "--stack",
            cli.stack,
        )
        before = _resources(cli)
        assert any("home" in r.get("inputs", {}) for r in before.values())  # the old shape

        steps = cli.preview_steps()
        changing = [(s["op"], s["urn"].rsplit("::", 1)[1]) for s in steps if s["op"] != "same"]
        assert changing == [], f"{cli.stack}: {changing}"
        cli.run("up", "--yes", "--expect-no-changes")

        # The state now has today's inputs: the workspace by locator, no machine path.
        after = _resources(cli)
        assert after.keys() == before.keys()
        for name, resource in after.items():
            inputs = resource.get("inputs", {})
            assert "home" not in inputs, name
            if resource["type"] == "pulumi-python:dynamic:Resource" and "digest" in inputs:
                assert inputs["workspace"] == {
                    "target": "local", "stack": cli.stack, "container": f"mlstack-{cli.stack}",
                }, name  # fmt: skip
                assert resource["id"] == before[name]["id"]
                assert resource["outputs"]["version"] == before[name]["outputs"]["version"]
        cli.run("preview", "--expect-no-changes")

    for cli in (prod, source):
        cli.run("destroy", "--yes")
        cli.run("stack", "rm", "--yes", cli.stack)
