"""The workspace inspection commands on a catalog alone: no Azurite, no pulumi.

A catalog is written directly (as a ``pulumi up`` would leave it), so listing, showing,
choosing samples and every error path run without services; content transfer is covered
by tests/integration/test_workspace_cli.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlstack.cli import app, main
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.errors import MlstackError, NotFoundError, ServiceError
from mlstack.project import HOME_ENV
from mlstack.workspace.local import LocalWorkspace

STACK = "unit"
DATA = Manifest.of(
    FileEntry(f"{c}/{i}.png", 10 + i, f"{i:02d}{c}".ljust(64, "0")) for c in "ab" for i in range(20)
)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalWorkspace:
    """A project in tmp_path whose stack ``unit`` has data, model and environment versions."""
    (tmp_path / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    home = tmp_path / ".mlstack"
    monkeypatch.setenv(HOME_ENV, str(home))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    ws = LocalWorkspace.at(home, STACK, "mlstack-unit")
    with ws.catalog.transaction(write=True, create=True) as db:
        db.execute(
            "INSERT INTO workspace VALUES (1, 'mlw-unit', 'mlstack-unit', 'unit', "
            "'{\"env\": \"test\"}', '2025-01-01T00:00:00+00:00')"
        )
    ws.data.register(
        "pets", type_="uri_folder", uri="azureml://x/", digest=DATA.digest, manifest=DATA
    )
    other = Manifest.of(DATA.entries[:5])
    ws.data.register(
        "pets", type_="uri_folder", uri="azureml://y/", digest=other.digest, manifest=other
    )
    ws.data.set_archived("pets", "2", archived=True)
    ws.data.register(
        "old", type_="uri_folder", uri="azureml://z/", digest=other.digest, manifest=other
    )
    ws.data.set_archived("old", "1", archived=True)
    lineage = {
        "data": [{"name": "pets", "version": "1", "digest": DATA.digest}],
        "environment": {"name": "pets-env", "version": "1"},
        "code": {"revision": "abc123", "dirty": True},
    }
    ws.models.register(
        "clf",
        type_="custom_model",
        uri="azureml://m/",
        digest="sha256:" + "1" * 64,
        manifest=other,
        stage="Production",
        properties={"metrics": {"test": {"accuracy": 0.5}}, "lineage": lineage},
    )
    ws.environments.register(
        "pets-env",
        type_="environment",
        uri="azureml:pets-env",
        digest="sha256:" + "2" * 64,
        properties={"image": "python:3.11", "conda": {"name": "pets-env"}},
    )
    return ws


def run(*args: str) -> Any:
    return CliRunner().invoke(app, [*args, "-s", STACK] if "-s" not in args else list(args))


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return str(result.output)


def failure(*args: str) -> str:
    result = run(*args)
    assert isinstance(result.exception, MlstackError), (result.output, result.exception)
    return str(result.exception)


def test_data_list_json_is_the_registry(ws: LocalWorkspace) -> None:
    listed = json.loads(ok("data", "list", "--format", "json"))
    expected = [v.to_dict() for v in ws.data.list()]
    for record in expected:
        del record["properties"], record["stage"]
    assert listed == expected
    assert [d["version"] for d in json.loads(ok("data", "list", "pets", "--format", "json"))] == [
        "1",
        "2",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("data", "list"),
        ("model", "list"),
        ("env", "list"),
        ("data", "show", "pets"),
        ("model", "show", "clf"),
        ("env", "show", "pets-env"),
        ("workspace", "show"),
        ("datastore", "list"),
        ("compute", "list"),
    ],
)
def test_tables_fit_80_columns(ws: LocalWorkspace, args: tuple[str, ...]) -> None:
    out = ok(*args)
    assert out.strip() and max(len(line) for line in out.splitlines()) <= 80


def test_show_latest_skips_archived_and_names_restore(ws: LocalWorkspace) -> None:
    assert json.loads(ok("data", "show", "pets@latest", "--format", "json"))["version"] == "1"
    assert json.loads(ok("data", "show", "pets:2", "--format", "json"))["archived"] is True
    assert "mlstack data restore" in ok("data", "show", "pets:2")


def test_unknown_asset_version_and_stack(ws: LocalWorkspace) -> None:
    assert "its data assets are old, pets" in failure("data", "show", "nope")
    assert "its versions are 1, 2 (archived)" in failure("data", "show", "pets:7")
    assert "has no version" in failure("model", "show", "clf:3")
    assert "run `pulumi up -s ghost` first" in failure("data", "list", "-s", "ghost")
    assert "is not an asset reference" in failure("data", "show", "a:b:c")


def test_archived_versions_say_how_to_restore(ws: LocalWorkspace, tmp_path: Path) -> None:
    message = failure("data", "download", "pets:2", str(tmp_path / "d"))
    assert "pets:2 is archived: restore it with `mlstack data restore pets:2 -s unit`" in message
    assert "mlstack data restore old:1" in failure("data", "show", "old")
    assert "is live" in ok("data", "restore", "old:1")
    assert json.loads(ok("data", "show", "old", "--format", "json"))["archived"] is False
    assert "name the version" in failure("data", "restore", "old")
    assert "is archived" in ok("data", "archive", "old:1")
    assert json.loads(ok("data", "show", "old:1", "--format", "json"))["archived"] is True
    assert "name the version to archive" in failure("data", "archive", "old")


def test_content_needs_azurite_and_says_how_to_start_it(ws: LocalWorkspace, tmp_path: Path) -> None:
    message = failure("data", "download", "pets", str(tmp_path / "d"))
    assert "start it with `mlstack local start`" in message
    assert isinstance(run("model", "download", "clf", str(tmp_path / "m")).exception, ServiceError)


def test_sample_needs_no_service_until_it_downloads(ws: LocalWorkspace) -> None:
    first = json.loads(ok("data", "sample", "pets", "--n", "7", "--seed", "3", "--format", "json"))
    again = json.loads(
        ok("data", "sample", "pets:1", "--n", "7", "--seed", "3", "--format", "json")
    )
    assert first["files"] == again["files"] and first["count"] == 7
    assert {f["path"] for f in first["files"]} <= set(DATA.by_path())
    assert "exactly one of" in failure("data", "sample", "pets")


def test_split_checks_fractions_before_anything(ws: LocalWorkspace) -> None:
    assert "exceed 1" in failure(
        "data", "split", "pets", "--train", "0.9", "--val", "0.2", "--out", "x"
    )
    assert not Path("x").exists()


def test_model_and_environment_show(ws: LocalWorkspace) -> None:
    model = json.loads(ok("model", "show", "clf", "--format", "json"))
    assert model["stage"] == "Production" and model["lineage"]["code"]["dirty"] is True
    table = ok("model", "show", "clf")
    assert "test.accuracy 0.5000" in table and "abc123 (dirty)" in table
    env = json.loads(ok("env", "show", "pets-env", "--format", "json"))
    assert env["properties"]["image"] == "python:3.11"


def test_workspace_show_reports_azurite_down(ws: LocalWorkspace) -> None:
    info = json.loads(ok("workspace", "show", "--format", "json"))
    assert info["name"] == "mlw-unit" and info["container"] == "mlstack-unit"
    assert info["azurite"]["running"] is False and info["container_exists"] is None
    assert info["counts"] == {"data": 3, "models": 1, "environments": 1}
    assert info["state_backend"].startswith("file://")
    assert "mlstack local start" in ok("workspace", "show")
    (store,) = json.loads(ok("datastore", "list", "--format", "json"))
    assert store == {
        "name": "workspaceblobstore",
        "type": "azure_blob",
        "account": "devstoreaccount1",
        "container": "mlstack-unit",
        "default": True,
        "url": None,
    }


def test_compute_is_this_machine(ws: LocalWorkspace) -> None:
    (machine,) = json.loads(ok("compute", "list", "--format", "json"))
    assert machine["name"] == "local" and machine["cores"] >= 1
    assert machine["memory_bytes"] > 0 and isinstance(machine["accelerators"], list)


def test_an_azure_stack_without_its_settings_is_one_clear_problem(ws: LocalWorkspace) -> None:
    Path("stacks").mkdir()
    Path("stacks/Pulumi.dev.yaml").write_text("config:\n  mlstack:target: azure\n")
    assert "the azure target needs `mlstack:azure`" in failure("data", "list", "-s", "dev")


def test_env_alone_still_prints_the_offline_exports(ws: LocalWorkspace) -> None:
    result = CliRunner().invoke(app, ["env"])
    assert result.exit_code == 0 and "export PULUMI_BACKEND_URL=" in result.output


def test_env_from_project_writes_the_conda_file(ws: LocalWorkspace) -> None:
    Path("pyproject.toml").write_text(
        '[project]\nname = "u"\nrequires-python = ">=3.11"\ndependencies = ["rich>=14"]\n'
    )
    Path("uv.lock").write_text('version = 1\n[[package]]\nname = "rich"\nversion = "14.2.0"\n')
    out = json.loads(
        CliRunner().invoke(app, ["env", "from-project", "u-env", "--format", "json"]).output
    )
    written = Path("assets/environments/u-env.conda.yaml").resolve()
    assert out["path"] == str(written) and out["pins"] == ["rich==14.2.0"]
    assert "rich==14.2.0" in written.read_text()


def test_main_prints_one_error_line_and_exits_1(
    ws: LocalWorkspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["mlstack", "data", "show", "pets:9", "-s", STACK])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: data asset pets has no version '9'") and "Traceback" not in err


def test_not_found_is_a_workspace_error(ws: LocalWorkspace) -> None:
    assert isinstance(run("data", "show", "nope").exception, NotFoundError)
