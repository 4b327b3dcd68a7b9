"""The asset layer on both targets, from the same test code, through the real pulumi engine.

``local``: the emulator (SQLite catalog + Azurite). ``azure``: an attach-mode azure stack
whose providers reach the loopback Azure ML service with the real ``MLClient`` and
``DefaultAzureCredential`` (see ``tests/support/azureml``), content in Azurite. Each
scenario reads the result back through the workspace protocol, as a user's tools would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.content.blobstore import BlobEndpoint
from mlstack.project import Project
from mlstack.services.azurite import ServiceState
from mlstack.workspace import Workspace, open_workspace
from mlstack.workspace.asset import upload_prefix
from tests.integration.conftest import (
    Pulumi,
    add_data,
    end_engine,
    engine_leftovers,
    local_config,
    new_stack,
)

if TYPE_CHECKING:
    from tests.support.azureml import WorkspaceRef

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTEFACT = ROOT / "tests" / "fixtures" / "state-v0" / "artefact"
DATA = ("digits-test", "digits-train", "digits-val")


@dataclass
class Target:
    """One stack of one target, and where its assets can be read back."""

    name: str
    cli: Pulumi
    locator: LocalLocator | AzureLocator
    home: Path
    endpoint: BlobEndpoint
    container: str

    def workspace(self) -> Workspace:
        return open_workspace(self.locator, home=self.home)

    def versions(self, section: str = "data") -> dict[str, str]:
        return {n: out["version"] for n, out in self.cli.outputs()[section].items()}

    def blobs(self) -> dict[str, str]:
        """Asset content in the datastore container (none while the stack has not made it)."""
        client = self.endpoint.client().get_container_client(self.container)
        if not client.exists():
            return {}
        return {b.name: b.etag for b in client.list_blobs(name_starts_with="LocalUpload/")}


def _attach_config(ws: WorkspaceRef) -> str:
    return (
        "config:\n  mlstack:target: azure\n  mlstack:azure:\n    mode: attach\n"
        f"    subscriptionId: {ws.subscription_id}\n    resourceGroup: {ws.resource_group}\n"
        f"    workspaceName: {ws.name}\n    datastoreName: {ws.datastore}\n"
        f"    blobEndpoint: {ws.blob.url}\n"
    )


@pytest.fixture(params=["local", "azure"])
def target(  # noqa: PLR0917 - fixtures arrive as parameters
    request: pytest.FixtureRequest, tmp_path: Path, project: Project, azurite: ServiceState,
    azurite_home: Path, digits: Path,
) -> Iterator[Target]:  # fmt: skip
    """A stack with the shipped data, environment and model YAML, on ``local`` or ``azure``."""
    dest = tmp_path / "project"
    if request.param == "local":
        cli = new_stack(project.root, dest, azurite_home, local_config(project))
        locator: LocalLocator | AzureLocator = LocalLocator(stack=cli.stack)
        container = f"mlstack-{cli.stack}"
    else:
        ws: WorkspaceRef = request.getfixturevalue("azureml_workspace")
        env = request.getfixturevalue("azureml_env")  # this process reads the service too
        cli = new_stack(project.root, dest, azurite_home, _attach_config(ws), extra_env=env)
        locator = AzureLocator(
            subscription_id=ws.subscription_id, resource_group=ws.resource_group,
            workspace=ws.name, datastore=ws.datastore, blob_endpoint=ws.blob.url,
        )  # fmt: skip
        container = ws.container
    add_data(cli, project, digits)
    for folder in ("environments", "models"):
        shutil.copytree(project.root / "assets" / folder, cli.cwd / "assets" / folder)
    shutil.copytree(ARTEFACT, cli.cwd / "outputs" / "digits-cnn")
    yield Target(request.param, cli, locator, azurite_home, azurite.endpoint, container)
    cli.run("destroy", "--yes", check=False)
    cli.run("stack", "rm", "--yes", "--force", cli.stack, check=False)


def test_up_registers_every_kind_and_a_changed_file_is_all_a_new_version_sends(
    target: Target,
) -> None:
    cli = target.cli
    cli.run("up", "--yes")
    assert target.versions() == dict.fromkeys(DATA, "1")
    assert target.versions("models") == {"digits-cnn": "1"}
    assert cli.outputs()["environments"] == {"digits-env": "azureml:digits-env:1"}
    ws = target.workspace()
    model = ws.models.get("digits-cnn", "1")
    assert model.properties["metrics"]["test"]["accuracy"] == 0.97
    assert ws.environments.get("digits-env", "1").properties["image"]
    cli.run("preview", "--expect-no-changes")

    # One PNG changes (to bytes no version holds): the preview names that asset and says
    # how; up sends that file only and copies the rest server-side.
    data = cli.cwd / "data" / "digits"
    changed = next((data / "val" / "3").iterdir())
    changed.write_bytes(changed.read_bytes() + b"\0")
    steps = [s for s in cli.preview_steps() if s["op"] != "same"]
    named = [(s["op"], s["urn"].rsplit("::", 1)[1]) for s in steps]
    assert named == [("update", "data-digits-val")]
    assert steps[0]["newState"]["inputs"]["changes"] == "1 changed since version 1"

    up = cli.run("up", "--yes")
    assert target.versions() == {"digits-test": "1", "digits-train": "1", "digits-val": "2"}
    # The engine's output tells what moved, per asset that registered a version.
    said = [x for x in (up.stdout + up.stderr).splitlines() if "data digits-val: version 2:" in x]
    assert said and all(" requests (" in x and "MiB/s" in x for x in said), up.stdout
    state = json.loads(cli.run("stack", "export", "--stack", cli.stack).stdout)
    [val] = [r for r in state["deployment"]["resources"] if r["urn"].endswith("::data-digits-val")]
    transfer = val["outputs"]["transfer"]
    # Only the changed file is new content; every other file is copied server-side or, where
    # measured cheaper on this backend, re-sent (``resent_files``) — never as new content.
    assert transfer["uploaded_files"] - transfer["resent_files"] == 1, transfer
    unchanged = sum(1 for _ in (data / "val").rglob("*.png")) - 1
    assert transfer["copied_files"] + transfer["resent_files"] == unchanged, transfer
    v1, v2 = ws.data.get("digits-val", "1"), ws.data.get("digits-val", "2")
    assert not v1.archived and v1.digest != v2.digest
    assert v2.uri.endswith(f"/paths/{upload_prefix(v2.digest, 'digits-val')}/")
    cli.run("preview", "--expect-no-changes")

    # An asset taken out of the stack is archived, every version of it, content kept.
    blobs = target.blobs()
    (cli.cwd / "assets" / "data" / "digits-val.yaml").unlink()
    cli.run("up", "--yes")
    assert [(v.version, v.archived) for v in ws.data.list("digits-val")] == [
        ("1", True), ("2", True),
    ]  # fmt: skip
    assert not ws.data.get("digits-train", "1").archived
    assert target.blobs() == blobs

    # destroy archives what the stack registered. An attached workspace keeps it all; a
    # local stack owns its workspace (as a created Azure estate owns its storage) and
    # removes it with the stack.
    cli.run("destroy", "--yes")
    if target.name == "azure":
        assert all(v.archived for v in ws.data.list() + ws.models.list())
        assert target.blobs() == blobs
    else:
        names = {c.name for c in target.endpoint.client().list_containers()}
        assert target.container not in names
        assert not ws.exists()


def test_a_model_below_its_gate_keeps_the_version_it_has(target: Target) -> None:
    cli = target.cli
    cli.run("up", "--yes")
    assert target.versions("models") == {"digits-cnn": "1"}

    # New content that fails the gate (0.90 < 0.95), by construction: it is not registered.
    metrics = cli.cwd / "outputs" / "digits-cnn" / "metrics.json"
    metrics.write_text(json.dumps({"test": {"accuracy": 0.90}}))
    result = cli.run("up", "--yes")
    said = result.stdout + result.stderr
    assert "not registered: test.accuracy 0.9 is below the gate 0.95; keeping version 1" in said
    assert target.versions("models") == {"digits-cnn": "1"}
    assert [v.version for v in target.workspace().models.list("digits-cnn")] == ["1"]
    cli.run("preview", "--expect-no-changes")


def test_sigkill_mid_upload_then_cancel_and_up_converges_with_no_partial_version(
    target: Target,
) -> None:
    cli = target.cli
    command = ["pulumi", "up", "--yes", "--non-interactive", "--skip-plugin-pre-install",
               "--stack", cli.stack]  # fmt: skip
    up = subprocess.Popen(
        command, cwd=cli.cwd, env=cli.env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while len(target.blobs()) < 100:
        assert up.poll() is None, "pulumi up finished before any transfer could be interrupted"
        assert time.monotonic() < deadline, "no upload started within 180 s"
        time.sleep(0.05)
    end_engine(up, cli.cwd)
    assert engine_leftovers(cli.cwd) == []
    arrived = target.blobs()

    # Any version registered is complete; the kill came before everything had arrived.
    ws = target.workspace()
    files = sum(1 for _ in (cli.cwd / "data" / "digits").rglob("*.png"))
    assert len(arrived) < files, "the kill came after every file had arrived"
    for version in ws.data.list():
        manifest = ws.data.manifest(version.name, version.version)
        prefix = upload_prefix(version.digest, version.name)
        assert all(f"{prefix}/{e.path}" in arrived for e in manifest.entries)

    cli.run("cancel", "--yes", "--stack", cli.stack)
    cli.run("up", "--yes")
    assert target.versions() == dict.fromkeys(DATA, "1")
    after = target.blobs()
    assert {name: after[name] for name in arrived} == arrived  # nothing sent twice
    cli.run("preview", "--expect-no-changes")


def test_a_preview_before_the_workspace_exists_plans_against_an_empty_one(  # noqa: PLR0917
    tmp_path: Path, project: Project, azurite: ServiceState, azurite_home: Path, digits: Path,
    azureml_workspace: WorkspaceRef, azureml_env: dict[str, str],
) -> None:  # fmt: skip
    """A stack whose workspace is not there yet (created by the first ``up``, or not yet
    by its owner) previews every asset as new and says why, instead of failing."""
    absent = f"{azureml_workspace.name}-next"
    config = _attach_config(azureml_workspace).replace(azureml_workspace.name, absent)
    cli = new_stack(project.root, tmp_path / "p", azurite_home, config, extra_env=azureml_env)
    add_data(cli, project, digits)
    result = cli.run("preview", "--json")
    preview = json.loads(result.stdout)
    said = " ".join(str(d.get("message", "")) for d in preview.get("diagnostics", []))
    assert f"workspace {absent!r}" in said and "does not exist yet" in said
    creates = sorted(s["urn"].rsplit("::", 1)[1] for s in preview["steps"] if s["op"] == "create")
    assert [c for c in creates if c.startswith("data-")] == [f"data-{n}" for n in DATA]
    cli.run("stack", "rm", "--yes", "--force", cli.stack, check=False)


def _component_changes(cli: Pulumi) -> str:
    steps = [s for s in cli.preview_steps() if s.get("urn", "").endswith("component-train_digits")]
    assert len(steps) == 1, steps
    return str(steps[0]["newState"]["inputs"]["changes"])


def test_a_component_is_versioned_by_its_parsed_spec_and_its_code(
    target: Target, project: Project
) -> None:
    cli = target.cli
    shutil.copytree(project.root / "assets" / "components", cli.cwd / "assets" / "components")
    for code in ("training", "steps"):
        shutil.copytree(project.root / code, cli.cwd / code,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    spec = cli.cwd / "assets" / "components" / "train.yaml"

    cli.run("up", "--yes")
    first = {
        name: f"azureml:{name}:1" for name in ("evaluate_digits", "prep_digits", "train_digits")
    }
    assert cli.outputs()["components"] == first
    cli.run("preview", "--expect-no-changes")

    # A reformat: comments gone, keys sorted, the folded command one plain line.
    spec.write_text(yaml.safe_dump(yaml.safe_load(spec.read_text()), sort_keys=True, width=4096))
    cli.run("preview", "--expect-no-changes")

    train = cli.cwd / "training" / "train.py"
    train.write_text(train.read_text() + "\n# a changed line\n")
    assert _component_changes(cli) == "code: 1 changed since version 1"
    cli.run("up", "--yes")
    # each step has its own code folder: only train_digits gets a new version
    assert cli.outputs()["components"] == {**first, "train_digits": "azureml:train_digits:2"}

    components = target.workspace().registry("component")
    latest = components.get("train_digits")
    assert latest.version == "2"
    assert latest.properties["spec"]["inputs"]["epochs"] == {"type": "integer", "default": 8}
    code = components.manifest("train_digits", "2")
    assert {"train.py", "score.py", "prepare_data.py"} <= {e.path for e in code.entries}
