"""Promotion local → local on a real workspace in Azurite, and every refusal a person can act on.

Each test has a project of its own (stack files, a model declared with a gate) whose
source stack's workspace holds two model versions: 1 meets the gate, 2 does not.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.errors import ConfigError, PromotionError, StackError
from mlstack.project import HOME_ENV, Project
from mlstack.promotion import promote
from mlstack.services.azurite import ServiceState
from mlstack.workspace.asset import upload_prefix
from mlstack.workspace.local import LocalWorkspace
from mlstack.workspace.register import register_folder

REPO = Path(__file__).resolve().parents[3]
MODEL = "m"
MODEL_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
name: m
type: custom_model
path: ../../outputs/m
properties:
  mlstack.min.test.accuracy: 0.9
"""
ATTACHED = """\
config:
  mlstack:target: azure
  mlstack:azure:
    mode: attach
    subscriptionId: 00000000-0000-0000-0000-000000000001
    resourceGroup: rg
    workspaceName: mlw-prod
"""


@dataclass(frozen=True)
class Setup:
    project: Project
    source: str
    target: str
    ws: LocalWorkspace

    def stack_file(self, stack: str) -> Path:
        return self.project.root / "stacks" / f"Pulumi.{stack}.yaml"


def _folder(root: Path, accuracy: float) -> Path:
    folder = root / f"artefact-{accuracy}"
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(bytes(range(256)) * 4)
    (folder / "metrics.json").write_text(json.dumps({"test": {"accuracy": accuracy}}))
    return folder


def _register(ws: LocalWorkspace, kind: str, name: str, folder: Path, accuracy: float) -> None:
    register_folder(
        ws, kind, name, folder, scan(folder, NoCache()),
        type_="custom_model" if kind == "model" else "uri_folder",
        properties={"metrics": {"test": {"accuracy": accuracy}}} if kind == "model" else None,
    )  # fmt: skip


@pytest.fixture
def setup(
    tmp_path: Path, azurite: ServiceState, azurite_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Setup:
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    (root / "assets" / "models").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: unit\nruntime: python\nstackConfigDir: stacks\n")
    (root / "assets" / "models" / "m.yaml").write_text(MODEL_YAML)
    monkeypatch.setenv(HOME_ENV, str(azurite_home))
    source, target = f"src-{uuid.uuid4().hex[:8]}", f"prod-{uuid.uuid4().hex[:8]}"
    (root / "stacks" / f"Pulumi.{source}.yaml").write_text("config:\n  mlstack:target: local\n")
    shipped = (REPO / "stacks" / "Pulumi.local-prod.yaml").read_text()
    (root / "stacks" / f"Pulumi.{target}.yaml").write_text(shipped)
    ws = LocalWorkspace.at(azurite_home, source, f"mlstack-{source}")
    ws.create(f"mlw-{source}", "source", {})
    _register(ws, "model", MODEL, _folder(tmp_path, 0.95), 0.95)
    _register(ws, "model", MODEL, _folder(tmp_path, 0.5), 0.5)
    _register(ws, "data", "d", _folder(tmp_path / "data", 0.0), 0.0)
    return Setup(Project(root), source, target, ws)


def test_a_checked_version_is_pinned_and_the_diff_is_the_pin(setup: Setup) -> None:
    before = setup.stack_file(setup.target).read_text()
    good = setup.ws.models.get(MODEL, "1")

    result = promote(setup.project, MODEL, source=setup.source, target=setup.target, version="1")

    after = setup.stack_file(setup.target).read_text()
    assert after.startswith(before.split("encryptionsalt")[0])  # every line before stays
    lines = result.diff.splitlines()[2:]  # after the ---/+++ header
    assert [line[1:] for line in lines if line.startswith("+")] == [
        "  mlstack:promotions:", "    models:", f"      {MODEL}:",
        f"        from: {setup.source}", "        version: '1'", f"        digest: {good.digest}",
    ]  # fmt: skip
    assert not [line for line in lines if line.startswith("-")]
    assert result.version.version == "1" and result.stack_file == setup.stack_file(setup.target)

    again = promote(setup.project, MODEL, source=setup.source, target=setup.target, version="1")
    assert again.diff == "" and setup.stack_file(setup.target).read_text() == after


def test_data_is_pinned_under_data(setup: Setup) -> None:
    promote(setup.project, "d", source=setup.source, target=setup.target, kind="data")
    assert f"  mlstack:promotions:\n    data:\n      d:\n        from: {setup.source}\n" in (
        setup.stack_file(setup.target).read_text()
    )


def _refused(setup: Setup, name: str = MODEL, **kw: str) -> str:
    """The refusal's message; the target's stack file is left exactly as it was."""
    target = kw.pop("target", setup.target)
    before = setup.stack_file(target).read_text() if setup.stack_file(target).exists() else None
    with pytest.raises((PromotionError, StackError)) as caught:
        promote(setup.project, name, source=kw.pop("source", setup.source), target=target, **kw)
    after = setup.stack_file(target).read_text() if setup.stack_file(target).exists() else None
    assert after == before
    return str(caught.value)


def test_a_failed_gate_shows_the_metric_its_value_and_the_gate(setup: Setup) -> None:
    message = _refused(setup)  # latest is version 2
    assert (
        f"model {MODEL}:2 of stack {setup.source!r} fails its gates in assets/models/m.yaml: "
        "test.accuracy 0.5 is below the gate 0.9 (gate test.accuracy ≥ 0.9): not promoted"
    ) in message


def test_an_archived_version_names_the_restore_command(setup: Setup) -> None:
    setup.ws.models.set_archived(MODEL, "1", archived=True)
    message = _refused(setup, version="1")
    assert f"model {MODEL}:1 is archived in stack {setup.source!r}" in message
    assert f"`mlstack model restore {MODEL}:1 -s {setup.source}`" in message


def test_changed_content_is_a_digest_mismatch(setup: Setup) -> None:
    good = setup.ws.models.get(MODEL, "1")
    blob = f"{upload_prefix(good.digest, MODEL)}/model.bin"
    with setup.ws.endpoint.client() as service:
        service.get_container_client(setup.ws.container).upload_blob(blob, b"x", overwrite=True)
    message = _refused(setup, version="1")
    assert f"the datastore does not hold the content its digest {good.digest} names" in message
    assert f"e.g. {blob}:" in message and "tampered with" in message
    assert f"`pulumi up -s {setup.source}`" in message


def test_an_unknown_version_lists_where_to_look(setup: Setup) -> None:
    message = _refused(setup, version="9")
    assert f"stack {setup.source!r}:" in message and f"`mlstack model list {MODEL} -s " in message


def test_a_source_never_deployed_says_run_pulumi_up(setup: Setup) -> None:
    setup.stack_file("ghost").write_text("config:\n  mlstack:target: local\n")
    message = _refused(setup, source="ghost")
    assert "cannot read the source stack 'ghost'" in message
    assert "run `pulumi up -s ghost` first" in message


def test_stack_files_missing_or_the_same_stack(setup: Setup) -> None:
    assert "stacks/Pulumi.nowhere.yaml does not exist: create" in _refused(setup, target="nowhere")
    assert "stacks/Pulumi.nowhere.yaml does not exist" in _refused(setup, source="nowhere")
    assert "name the same stack" in _refused(setup, target=setup.source)


def test_every_problem_of_both_stack_files_at_once(setup: Setup) -> None:
    setup.stack_file(setup.source).write_text("config:\n  mlstack:target: moon\n")
    setup.stack_file(setup.target).write_text("config:\n  mlstack:colour: blue\n")
    with pytest.raises(ConfigError) as caught:
        promote(setup.project, MODEL, source=setup.source, target=setup.target)
    assert {(p.file, p.field) for p in caught.value.problems} == {
        (f"stacks/Pulumi.{setup.target}.yaml", "mlstack:colour"),
        (f"stacks/Pulumi.{setup.source}.yaml", "mlstack:target"),
    }


def test_routes_to_and_from_azure_are_refused_with_a_reason(setup: Setup) -> None:
    setup.stack_file("prod").write_text(ATTACHED)
    into_azure = _refused(setup, target="prod")
    assert f"stack {setup.source!r} is local: its content lives in Azurite on this machine, " \
           "which Azure cannot copy from" in into_azure  # fmt: skip
    assert "`--from dev`" in into_azure

    out_of_azure = _refused(setup, source="prod")
    assert "mlstack does not copy Azure content onto this machine" in out_of_azure


def test_an_azure_source_with_no_sign_in_says_az_login(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real DefaultAzureCredential, limited to the Azure CLI, which is not installed.
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    monkeypatch.setenv("PATH", str(tmp_path / "no-az"))
    setup.stack_file("prod").write_text(ATTACHED)
    setup.stack_file("dev").write_text(ATTACHED.replace("mlw-prod", "mlw-dev"))
    message = _refused(setup, source="dev", target="prod")
    assert message.startswith("cannot read the source stack 'dev': ")
    assert "run `az login`" in message and "Traceback" not in message
