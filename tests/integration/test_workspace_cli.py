"""Every workspace inspection command against a real workspace in a real Azurite.

The workspace is built here (catalog + container + uploaded, registered versions), not by
the lead's dev stack, and every command is checked on what it returns or writes: the
files it picks, the bytes it downloads, the YAML it writes, the JSON it prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlstack.cli import app
from mlstack.config.assets import load_data_specs
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.hashcache import NoCache
from mlstack.content.manifest import Manifest
from mlstack.content.scan import scan
from mlstack.content.transfer import upload
from mlstack.project import HOME_ENV, Project
from mlstack.workspace.asset import datastore_uri, upload_prefix
from mlstack.workspace.local import LocalWorkspace, catalog_path

pytestmark = pytest.mark.integration

LABELS = ("cat", "dog", "owl")
PER_LABEL = 20


@dataclass(frozen=True)
class Built:
    """The workspace under test and what was registered in it."""

    stack: str
    ws: LocalWorkspace
    data: Manifest
    model: Manifest
    root: Path  # a project of its own (holds Pulumi.yaml): split YAMLs must stay inside it


def _register_folder(
    ws: LocalWorkspace, kind: str, name: str, folder: Path, **extra: Any
) -> Manifest:
    manifest = scan(folder, NoCache())
    prefix = upload_prefix(manifest.digest, name)
    upload(folder, manifest, ws.endpoint, ws.container, prefix, ws.stored_content(), progress=False)
    registry = ws.data if kind == "data" else ws.models
    registry.register(
        name,
        type_=extra.pop("type_", "uri_folder"),
        uri=datastore_uri(prefix),
        digest=manifest.digest,
        manifest=manifest,
        **extra,
    )
    return manifest


@pytest.fixture(scope="module")
def built(
    azurite: Any, azurite_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    endpoint: BlobEndpoint = azurite.endpoint
    stack = f"wscli-{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("project")
    (root / "Pulumi.yaml").write_text("name: wscli\nruntime: python\n")
    ws = LocalWorkspace(catalog_path(azurite_home, stack), f"mlstack-{stack}", lambda: endpoint)
    ws.create(f"mlw-{stack}", "workspace CLI test", {"env": "test"})

    source = root / "source"
    for label in LABELS:
        (source / label).mkdir(parents=True)
        for i in range(PER_LABEL):
            (source / label / f"{i:02d}.txt").write_text(f"{label} {i} " * (i + 1))
    data = _register_folder(ws, "data", "pets", source, description="pets", tags={"k": "v"})
    (source / "cat" / "00.txt").write_text("changed")
    _register_folder(ws, "data", "pets", source)  # version 2, then archived
    ws.data.set_archived("pets", "2", archived=True)

    artefact = root / "artefact"
    artefact.mkdir()
    (artefact / "model.bin").write_bytes(bytes(range(256)) * 8)
    (artefact / "metrics.json").write_text('{"test": {"accuracy": 0.91}}')
    lineage = {
        "data": [{"name": "pets", "version": "1", "digest": data.digest, "role": "train"}],
        "environment": {"name": "pets-env", "version": "1"},
        "code": {"revision": "abc123", "dirty": False},
        "parameters": {"lr": 0.1},
    }
    model = _register_folder(
        ws,
        "model",
        "pets-clf",
        artefact,
        type_="custom_model",
        stage="Staging",
        properties={"metrics": {"test": {"accuracy": 0.91}}, "lineage": lineage},
    )
    ws.environments.register(
        "pets-env",
        type_="environment",
        uri="azureml:pets-env",
        digest="sha256:" + "0" * 64,
        properties={
            "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
            "conda": {"name": "pets-env", "dependencies": ["python=3.11"]},
        },
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(azurite_home))
        patch.chdir(root)
        yield Built(stack, ws, data, model, root)


def cli(built: Built, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "-s", built.stack])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def cli_json(built: Built, *args: str) -> Any:
    return json.loads(cli(built, *args, "--format", "json"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_sample_is_reproducible_and_downloads_verified(built: Built, tmp_path: Path) -> None:
    first = cli_json(
        built,
        "data",
        "sample",
        "pets:1",
        "--n",
        "30",
        "--seed",
        "7",
        "--download",
        str(tmp_path / "a"),
    )
    second = cli_json(built, "data", "sample", "pets", "--n", "30", "--seed", "7")
    paths = [f["path"] for f in first["files"]]
    assert len(paths) == len(set(paths)) == 30
    assert paths == [f["path"] for f in second["files"]]
    other = cli_json(built, "data", "sample", "pets", "--n", "30", "--seed", "8")
    assert [f["path"] for f in other["files"]] != paths  # the seed matters

    listed = built.data.by_path()
    assert _files(tmp_path / "a") == set(paths)
    for path in paths:
        assert _sha256(tmp_path / "a" / path) == listed[path].sha256

    fraction = cli_json(built, "data", "sample", "pets", "--fraction", "0.1", "--seed", "7")
    assert fraction["count"] == 6  # 10% of 60
    table = cli(built, "data", "sample", "pets", "--n", "3", "--seed", "7")
    assert "3 of 60 files of pets:1 (seed 7)" in table


def test_split_is_stable_disjoint_covering_and_registrable(built: Built) -> None:
    args = (
        "data",
        "split",
        "pets:1",
        "--train",
        "0.8",
        "--val",
        "0.1",
        "--seed",
        "123",
        "--stratify-by-folder",
        "--out",
        "data/split",
    )
    first = cli_json(built, *args)
    second = cli_json(built, *args)  # idempotent: same folders, same YAML, no --force needed
    assert first == second
    out = built.root / "data" / "split"
    on_disk = {name: _files(out / name) for name in ("train", "val", "test")}
    assert {s["split"]: set(s["paths"]) for s in first} == on_disk
    assert [len(on_disk[n]) for n in ("train", "val", "test")] == [48, 6, 6]
    assert not (
        on_disk["train"] & on_disk["val"]
        or on_disk["train"] & on_disk["test"]
        or on_disk["val"] & on_disk["test"]
    )
    assert on_disk["train"] | on_disk["val"] | on_disk["test"] == set(built.data.by_path())
    for name in ("val", "test"):  # stratified: two files of every label in val and test
        assert sorted(p.split("/")[0] for p in on_disk[name]) == sorted(LABELS * 2)
    listed = built.data.by_path()
    for name, paths in on_disk.items():
        for path in paths:
            assert _sha256(out / name / path) == listed[path].sha256

    specs = {s.name: s for s in load_data_specs(built.root)}
    assert set(specs) == {"pets-train", "pets-val", "pets-test"}
    assert specs["pets-val"].path == (out / "val").resolve()
    assert specs["pets-val"].tags["source"] == "pets:1"
    assert specs["pets-val"].tags["seed"] == "123"

    (out / "val" / "stray.txt").write_text("not in the split")
    result = CliRunner().invoke(app, [*args, "-s", built.stack])
    assert result.exit_code != 0 and "not in the val split" in str(result.exception)


def test_download_data_and_model_verified(built: Built, tmp_path: Path) -> None:
    record = cli_json(built, "data", "download", "pets:1", str(tmp_path / "d"), "--no-progress")
    assert (record["files"], record["digest"]) == (60, built.data.digest)
    for entry in built.data.entries:
        assert _sha256(tmp_path / "d" / entry.path) == entry.sha256
    (tmp_path / "d" / "dog" / "03.txt").unlink()  # resumable: the rerun fetches what is missing
    cli(built, "data", "download", "pets", str(tmp_path / "d"))
    assert _files(tmp_path / "d") == set(built.data.by_path())

    cli(built, "model", "download", "pets-clf", str(tmp_path / "m"))
    for entry in built.model.entries:
        assert _sha256(tmp_path / "m" / entry.path) == entry.sha256


def test_list_and_show_match_the_registry(built: Built) -> None:
    listed = cli_json(built, "data", "list")
    assert [(d["name"], d["version"], d["digest"], d["archived"]) for d in listed] == [
        (v.name, v.version, v.digest, v.archived) for v in built.ws.data.list()
    ]
    shown = cli_json(built, "data", "show", "pets@latest")  # latest skips archived 2
    assert (shown["version"], shown["files"], shown["digest"]) == ("1", 60, built.data.digest)
    assert "pets" in cli(built, "data", "list", "pets")

    model = cli_json(built, "model", "show", "pets-clf")
    assert model["stage"] == "Staging"
    assert model["lineage"]["model"]["metrics"] == {"accuracy": 0.91}
    assert model["lineage"]["data"][0]["digest"] == built.data.digest
    assert "test.accuracy 0.9100" in cli(built, "model", "show", "pets-clf:1")
    assert [m["name"] for m in cli_json(built, "model", "list")] == ["pets-clf"]

    env = cli_json(built, "env", "show", "pets-env")
    assert env["properties"]["image"].startswith("mcr.microsoft.com/azureml/")
    assert "python=3.11" in cli(built, "env", "show", "pets-env:1")
    assert [e["version"] for e in cli_json(built, "env", "list")] == ["1"]


def test_workspace_datastore_compute(built: Built, azurite: Any) -> None:
    info = cli_json(built, "workspace", "show")
    assert info["name"] == f"mlw-{built.stack}"
    assert info["container"] == built.ws.container and info["container_exists"] is True
    assert info["catalog"] == str(built.ws.catalog.path)
    assert info["azurite"] == {"running": True, "url": azurite.endpoint.url, "pid": azurite.pid}
    assert info["counts"] == {"data": 2, "models": 1, "environments": 1}

    (store,) = cli_json(built, "datastore", "list")
    assert (store["name"], store["container"], store["default"]) == (
        "workspaceblobstore",
        built.ws.container,
        True,
    )
    (machine,) = cli_json(built, "compute", "list")
    assert machine["name"] == "local" and machine["cores"] >= 1 and machine["memory_bytes"] > 0


def test_archived_version_and_restore(built: Built, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["data", "download", "pets:2", str(tmp_path), "-s", built.stack]
    )
    assert "pets:2 is archived" in str(result.exception)
    assert "mlstack data restore pets:2" in str(result.exception)
    try:
        cli(built, "data", "restore", "pets:2")
        assert cli_json(built, "data", "show", "pets")["version"] == "2"
    finally:
        built.ws.data.set_archived("pets", "2", archived=True)


def test_real_console_script_one_line_errors(built: Built, project: Project) -> None:
    """The installed `mlstack` command: JSON on stdout; errors as one line, exit 1."""
    env = {**os.environ, HOME_ENV: os.environ[HOME_ENV]}
    script = str(project.root / ".venv/bin/mlstack")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, *args],
            cwd=built.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    ok = run("data", "list", "pets", "-s", built.stack, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert [d["version"] for d in json.loads(ok.stdout)] == ["1", "2"]
    for args, words in [
        (("data", "show", "pets:9", "-s", built.stack), "has no version '9'"),
        (("data", "show", "nope", "-s", built.stack), "its data assets are pets"),
        (("model", "list", "-s", "no-such-stack"), "run `pulumi up -s no-such-stack` first"),
    ]:
        failed = run(*args)
        assert failed.returncode == 1, failed
        # One message; rich wraps it at the terminal width, so join the lines back.
        message = " ".join(line.strip() for line in failed.stderr.splitlines())
        assert message.startswith("error: ") and message.count("error:") == 1
        assert words in message and "Traceback" not in failed.stderr
