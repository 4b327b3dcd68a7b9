"""``mlstack component list|show|archive``, on a catalog alone (no Azurite, no pulumi)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlstack.content.manifest import FileEntry, Manifest
from mlstack.project import HOME_ENV
from mlstack.workspace.local import LocalWorkspace
from tests.unit.cli.test_inspect import STACK, failure, ok

CODE = Manifest.of([FileEntry("train.py", 12, "a" * 64), FileEntry("util.py", 5, "b" * 64)])
SPEC = {
    "type": "command", "command": "python train.py --lr ${{inputs.lr}}",
    "environment": "azureml:digits-env@latest", "is_deterministic": True,
    "inputs": {"lr": {"type": "number", "default": 0.002}, "train": {"type": "uri_folder"}},
    "outputs": {"model": {"type": "uri_folder"}},
}  # fmt: skip


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalWorkspace:
    (tmp_path / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    home = tmp_path / ".mlstack"
    monkeypatch.setenv(HOME_ENV, str(home))
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.chdir(tmp_path)
    ws = LocalWorkspace.at(home, STACK, "mlstack-unit")
    with ws.catalog.transaction(write=True, create=True) as db:
        db.execute(
            "INSERT INTO workspace VALUES (1, 'mlw-unit', 'mlstack-unit', 'unit', '{}', "
            "'2025-01-01T00:00:00+00:00')"
        )
    for digest in ("1", "2"):
        ws.components.register(
            "train_digits", type_="command", uri="azureml://datastores/d/paths/x/",
            digest="sha256:" + digest * 64, manifest=CODE,
            properties={"spec": SPEC, "code_digest": CODE.digest},
        )  # fmt: skip
    return ws


def test_list_and_show_read_the_component_registry(ws: LocalWorkspace) -> None:
    listed = json.loads(ok("component", "list", "--format", "json"))
    assert [(c["name"], c["version"]) for c in listed] == [
        ("train_digits", "1"),
        ("train_digits", "2"),
    ]
    shown = ok("component", "show", "train_digits")
    assert "azureml:train_digits:2" in shown
    assert "lr: number = 0.002" in shown and "train: uri_folder" in shown
    assert "azureml:digits-env@latest" in shown


def test_archive_moves_latest_and_unknown_names_list_what_exists(ws: LocalWorkspace) -> None:
    ok("component", "archive", "train_digits:2")
    assert json.loads(ok("component", "show", "train_digits", "--format", "json"))["version"] == "1"
    said = failure("component", "show", "nothing")
    assert "train_digits" in said and "mlstack component list" in said
