"""Data assets through the real pulumi engine and a real Azurite: versions, review, crashes."""

from __future__ import annotations

import filecmp
import subprocess
import time
from pathlib import Path

import pytest

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.download import download
from mlstack.project import Project
from mlstack.workspace.asset import upload_prefix
from mlstack.workspace.local import LocalWorkspace
from tests.integration.conftest import Pulumi, add_data, end_engine, engine_leftovers

pytestmark = pytest.mark.integration

ASSETS = ("digits-test", "digits-train", "digits-val")


def _workspace(cli: Pulumi) -> LocalWorkspace:
    return LocalWorkspace.open(Path(cli.env["MLSTACK_HOME"]), cli.stack)


def _versions(cli: Pulumi) -> dict[str, str]:
    return {name: out["version"] for name, out in cli.outputs()["data"].items()}


def _same_tree(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(a, b, files_a, shallow=False)
    return files_a == files_b and not mismatch and not errors and len(match) == len(files_a)


def test_versions_follow_content_and_preview_names_the_change(
    pulumi: Pulumi, project: Project, digits: Path, endpoint: BlobEndpoint, tmp_path: Path
) -> None:
    data = add_data(pulumi, project, digits)

    pulumi.run("up", "--yes")
    assert _versions(pulumi) == dict.fromkeys(ASSETS, "1")
    pulumi.run("preview", "--expect-no-changes")

    # One PNG changes: the review shows exactly that asset, with a correct summary.
    changed = next((data / "val" / "3").iterdir())
    changed.write_bytes(next((data / "val" / "4").iterdir()).read_bytes())
    steps = [s for s in pulumi.preview_steps() if s["op"] != "same"]
    assert [s["urn"].rsplit("::", 1)[1] for s in steps] == ["data-digits-val"]
    new_inputs = steps[0]["newState"]["inputs"]
    assert new_inputs["changes"] == "1 changed since version 1"
    assert new_inputs["digest"] != steps[0]["oldState"]["inputs"]["digest"]

    pulumi.run("up", "--yes")
    assert _versions(pulumi) == {"digits-test": "1", "digits-train": "1", "digits-val": "2"}
    ws = _workspace(pulumi)
    v1, v2 = ws.get_data("digits-val", "1"), ws.get_data("digits-val", "2")
    assert not v1.archived and v1.digest != v2.digest  # version 1 stays readable

    # Nothing changed since: preview agrees, and up is a no-op.
    pulumi.run("preview", "--expect-no-changes")
    pulumi.run("up", "--yes", "--expect-no-changes")

    # What the datastore holds for version 2 is the source, byte for byte.
    fetched = tmp_path / "fetched"
    manifest = ws.data_manifest("digits-val", "2")
    prefix = upload_prefix(v2.digest, "digits-val")
    download(endpoint, ws.container, prefix, manifest, fetched, progress=False)
    assert _same_tree(fetched, data / "val")

    # destroy archives what the stack registered and keeps the content.
    pulumi.run("destroy", "--yes")


def _blob_etags(endpoint: BlobEndpoint, container: str) -> dict[str, str]:
    client = endpoint.client().get_container_client(container)
    return {b.name: b.etag for b in client.list_blobs(name_starts_with="LocalUpload/")}


def test_sigkill_during_transfer_leaves_no_partial_version_and_up_converges(
    pulumi: Pulumi, project: Project, digits: Path, endpoint: BlobEndpoint
) -> None:
    add_data(pulumi, project, digits)
    # The workspace first, so the kill below can only land in a data transfer.
    pulumi.run("up", "--yes", "--target", "**::platform", "--target", "**::platform-workspace")
    container = f"mlstack-{pulumi.stack}"

    # Kill the whole process tree (CLI, language host, provider host) mid-upload.
    command = ["pulumi", "up", "--yes", "--non-interactive", "--skip-plugin-pre-install",
               "--stack", pulumi.stack]  # fmt: skip
    up = subprocess.Popen(
        command, cwd=pulumi.cwd, env=pulumi.env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(_blob_etags(endpoint, container)) < 100:
        assert up.poll() is None, "pulumi up finished before any transfer could be interrupted"
        assert time.monotonic() < deadline, "no upload started within 120 s"
        time.sleep(0.05)
    end_engine(up, pulumi.cwd)
    assert engine_leftovers(pulumi.cwd) == []
    arrived = _blob_etags(endpoint, container)

    # No version without all its content: any registered version is complete.
    ws = _workspace(pulumi)
    total = sum(len(list((pulumi.cwd / "data" / "digits" / n.split("-")[1]).rglob("*.png")))
                for n in ASSETS)  # fmt: skip
    assert len(arrived) < total, "the kill came after every file had arrived"
    for version in ws.list_data():
        manifest = ws.data_manifest(version.name, version.version)
        prefix = upload_prefix(version.digest, version.name)
        assert all(f"{prefix}/{e.path}" in arrived for e in manifest.entries)

    # Recovery as the README says: release the killed run's lock; then up converges,
    # and content that had arrived is not sent again.
    pulumi.run("cancel", "--yes", "--stack", pulumi.stack)
    pulumi.run("up", "--yes")
    assert _versions(pulumi) == dict.fromkeys(ASSETS, "1")
    after = _blob_etags(endpoint, container)
    assert {name: after[name] for name in arrived} == arrived
    pulumi.run("preview", "--expect-no-changes")


def test_bad_asset_files_fail_the_preview_with_every_problem_and_change_nothing(
    pulumi: Pulumi, project: Project, digits: Path, endpoint: BlobEndpoint
) -> None:
    add_data(pulumi, project, digits)
    folder = pulumi.cwd / "assets" / "data"
    (folder / "broken.yaml").write_text("name: broken\ntype: uri_folder\npath: [unclosed\n")
    (folder / "missing.yaml").write_text("name: missing\ntype: uri_folder\npath: ../../nowhere\n")
    (folder / "twin.yaml").write_text((folder / "digits-val.yaml").read_text())

    result = pulumi.run("up", "--yes", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    for file in ("broken.yaml", "missing.yaml", "twin.yaml"):
        assert f"assets/data/{file}" in output, f"{file} not named in:\n{output}"
    assert "does not exist" in output and "digits-val" in output
    assert f"mlstack-{pulumi.stack}" not in {c.name for c in endpoint.client().list_containers()}
