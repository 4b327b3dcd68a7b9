"""materialise: data references become verified local folders, fetched once."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.transfer import upload
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.workspace import inputs
from mlstack.workspace.asset import datastore_uri, upload_prefix
from mlstack.workspace.inputs import materialise
from mlstack.workspace.local import LocalWorkspace

V1 = {"0/1.png": b"zero" * 50, "1/2.png": b"one" * 70, "1/3.png": b"one again"}
V2 = {**V1, "2/4.png": b"two" * 10}


@dataclass
class Stack:
    home: Path
    name: str
    workspace: LocalWorkspace

    def register(self, files: dict[str, bytes], source: Path, asset: str = "digits") -> str:
        """Upload ``files`` as a new version of ``asset`` and return the version."""
        entries = []
        for rel, data in files.items():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            (source / rel).write_bytes(data)
            entries.append(FileEntry(rel, len(data), hashlib.sha256(data).hexdigest()))
        manifest = Manifest.of(entries)
        prefix = upload_prefix(manifest.digest, asset)
        ws = self.workspace
        upload(source, manifest, ws.endpoint, ws.container, prefix, {}, 2, False)
        version, _ = ws.register_data(
            asset, type_="uri_folder", uri=datastore_uri(prefix), manifest=manifest
        )
        return version.version


@pytest.fixture
def stack(azurite_home: Path, endpoint: BlobEndpoint) -> Iterator[Stack]:
    """A stack of its own in the session's Azurite home, found by ``LocalWorkspace.open``."""
    name = f"t{uuid.uuid4().hex[:12]}"
    catalog = azurite_home / "stacks" / name / "workspace.db"
    catalog.parent.mkdir(parents=True)
    ws = LocalWorkspace(catalog, f"ws-{name}", lambda: endpoint)
    ws.create(name, "test workspace", {})
    yield Stack(azurite_home, name, ws)
    ws.delete()


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_a_version_lands_once_as_a_plain_folder_in_the_default_cache(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = stack.register(V1, tmp_path / "src")
    got = materialise(stack.home, stack.name, f"digits:{version}", progress=False)
    digest = stack.workspace.get_data("digits", version).digest
    assert (got.name, got.version, got.digest, got.files) == ("digits", "1", digest, 3)
    assert got.path == stack.home / "cache" / "data" / digest.removeprefix("sha256:")
    assert tree(got.path) == V1  # nothing of ours inside the folder
    assert (got.path.parent / f".{got.path.name}.complete").is_file()

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a complete cache must not be downloaded again")

    monkeypatch.setattr(inputs, "download", no_download)
    assert materialise(stack.home, stack.name, "digits:1", progress=False) == got


def test_latest_is_the_newest_version_that_is_not_archived(stack: Stack, tmp_path: Path) -> None:
    stack.register(V1, tmp_path / "a")
    stack.register(V2, tmp_path / "b")
    cache = tmp_path / "cache"
    newest = materialise(stack.home, stack.name, "digits@latest", cache, progress=False)
    assert newest.version == "2" and tree(newest.path) == V2
    assert materialise(stack.home, stack.name, "digits", cache, progress=False) == newest
    stack.workspace.set_data_archived("digits", "2", True)
    older = materialise(stack.home, stack.name, "digits@latest", cache, progress=False)
    assert older.version == "1" and tree(older.path) == V1


def test_an_archived_version_is_refused_with_how_to_restore(stack: Stack, tmp_path: Path) -> None:
    stack.register(V1, tmp_path / "src")
    stack.workspace.set_data_archived("digits", "1", True)
    with pytest.raises(WorkspaceError, match=r"digits:1 is archived.*restore it") as caught:
        materialise(stack.home, stack.name, "digits:1", tmp_path / "cache", progress=False)
    assert "1 (archived)" in str(caught.value)
    assert not (tmp_path / "cache").exists()  # refused before anything is fetched


def test_unknown_versions_and_names_list_what_exists(stack: Stack, tmp_path: Path) -> None:
    stack.register(V1, tmp_path / "a")
    stack.register(V2, tmp_path / "b")
    with pytest.raises(NotFoundError, match=r"digits:9 does not exist.*versions of 'digits': 1, 2"):
        materialise(stack.home, stack.name, "digits:9", progress=False)
    with pytest.raises(NotFoundError, match=r"registered names: digits"):
        materialise(stack.home, stack.name, "digitz@latest", progress=False)
    with pytest.raises(NotFoundError, match="is not an asset reference"):
        materialise(stack.home, stack.name, "digits:1:2", progress=False)


def test_a_tampered_cache_is_repaired_from_the_datastore(stack: Stack, tmp_path: Path) -> None:
    """Documented choice: re-fetch (verified), not refuse; strays and empty folders go."""
    stack.register(V1, tmp_path / "src")
    cache = tmp_path / "cache"
    got = materialise(stack.home, stack.name, "digits:1", cache, progress=False)
    (got.path / "1" / "2.png").write_bytes(b"tampered")
    (got.path / "0" / "1.png").unlink()
    (got.path / "7").mkdir()
    (got.path / "7" / "stray.png").write_bytes(b"not in the manifest")
    (got.path / "9").mkdir()  # an empty folder would read as an extra class
    again = materialise(stack.home, stack.name, "digits:1", cache, progress=False)
    assert again == got and tree(got.path) == V1
    assert sorted(p.name for p in got.path.iterdir()) == ["0", "1"]


def test_an_edit_that_keeps_size_and_mtime_needs_rehash(stack: Stack, tmp_path: Path) -> None:
    stack.register(V1, tmp_path / "src")
    cache = tmp_path / "cache"
    got = materialise(stack.home, stack.name, "digits:1", cache, progress=False)
    victim = got.path / "1" / "3.png"
    before = victim.stat()
    victim.write_bytes(b"ONE AGAIN")  # same length
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    materialise(stack.home, stack.name, "digits:1", cache, progress=False)
    assert victim.read_bytes() == b"ONE AGAIN"  # stats are trusted, as the hash cache does
    materialise(stack.home, stack.name, "digits:1", cache, progress=False, rehash=True)
    assert victim.read_bytes() == V1["1/3.png"]


def test_a_lost_marker_costs_hashing_but_no_download(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.register(V1, tmp_path / "src")
    cache = tmp_path / "cache"
    got = materialise(stack.home, stack.name, "digits:1", cache, progress=False)
    (cache / f".{got.path.name}.complete").unlink()
    fetched: list[int] = []
    real = inputs.download

    def counting(*args: object, **kwargs: object) -> None:
        real(*args, **kwargs)  # type: ignore[arg-type]
        fetched.append(1)

    monkeypatch.setattr(inputs, "download", counting)
    monkeypatch.setattr("mlstack.content.download._fetch_once", None)  # any fetch would fail
    assert materialise(stack.home, stack.name, "digits:1", cache, progress=False) == got
    assert fetched == [1] and (cache / f".{got.path.name}.complete").is_file()


def test_a_damaged_blob_is_refused_and_not_marked_complete(stack: Stack, tmp_path: Path) -> None:
    version = stack.register(V1, tmp_path / "src")
    data = stack.workspace.get_data("digits", version)
    blob = f"{upload_prefix(data.digest, 'digits')}/1/2.png"
    with stack.workspace.endpoint.client() as service:
        service.get_container_client(stack.workspace.container).upload_blob(
            blob, b"altered in the datastore", overwrite=True
        )
    cache = tmp_path / "cache"
    with pytest.raises(WorkspaceError, match="does not hold the content its manifest lists"):
        materialise(stack.home, stack.name, "digits:1", cache, progress=False)
    hexdigest = data.digest.removeprefix("sha256:")
    assert not (cache / f".{hexdigest}.complete").exists()
    assert not (cache / hexdigest / "1" / "2.png").exists()


def test_a_stack_without_a_workspace_says_to_run_pulumi_up(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="pulumi up -s nowhere"):
        materialise(tmp_path, "nowhere", "digits:1", progress=False)
