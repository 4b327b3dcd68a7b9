"""LocalWorkspace: Azure ML's asset semantics on the local catalog."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.errors import ImmutableError, NotFoundError
from mlstack.workspace.asset import AssetRef, datastore_uri, upload_prefix
from mlstack.workspace.local import LocalWorkspace


def no_blob_storage() -> BlobEndpoint:
    raise AssertionError("data-version operations must not touch blob storage")


def manifest(*contents: str) -> Manifest:
    return Manifest.of(
        FileEntry(f"f{i}.txt", len(c), f"{hash(c) & 0xFFFF:064x}") for i, c in enumerate(contents)
    )


def register(
    ws: LocalWorkspace, m: Manifest, name: str = "digits", **kw: object
) -> tuple[str, bool]:
    uri = datastore_uri(upload_prefix(m.digest, name))
    version, created = ws.register_data(name, type_="uri_folder", uri=uri, manifest=m, **kw)  # type: ignore[arg-type]
    return version.version, created


@pytest.fixture
def ws(tmp_path: Path) -> LocalWorkspace:
    return LocalWorkspace(tmp_path / "workspace.db", "unused", no_blob_storage)


def test_versions_are_next_integers_and_identical_content_is_a_no_op(ws: LocalWorkspace) -> None:
    a, b = manifest("one"), manifest("two")
    assert register(ws, a) == ("1", True)
    assert register(ws, a) == ("1", False)
    assert register(ws, b) == ("2", True)
    assert ws.get_data("digits").version == "2"  # latest
    assert register(ws, a) == ("1", False)  # back to old content: its version, not a third
    assert [v.version for v in ws.list_data("digits")] == ["1", "2"]
    assert ws.get_data("digits").version == "2"  # a no-op: latest is still the newest created
    assert ws.get_data("digits", "1").digest == a.digest  # the old version stays readable
    assert ws.data_manifest("digits", "1") == a


def test_names_have_independent_version_counters(ws: LocalWorkspace) -> None:
    assert register(ws, manifest("x"), "train") == ("1", True)
    assert register(ws, manifest("y"), "val") == ("1", True)


def test_an_existing_version_cannot_change_its_path(ws: LocalWorkspace) -> None:
    register(ws, manifest("one"), version="7")
    with pytest.raises(ImmutableError, match=r"digits:7: Asset paths cannot be updated\."):
        register(ws, manifest("other"), version="7")
    assert register(ws, manifest("one"), version="7") == ("7", False)  # identical re-PUT
    assert register(ws, manifest("new")) == ("8", True)  # next follows explicit versions


def test_metadata_updates_in_place(ws: LocalWorkspace) -> None:
    register(ws, manifest("one"), description="first", tags={"a": "1"})
    updated = ws.update_data("digits", "1", "second", {"b": "2"})
    assert (updated.description, dict(updated.tags)) == ("second", {"b": "2"})
    assert updated.version == "1" and len(ws.list_data()) == 1


def test_archive_hides_from_latest_and_restore_brings_back(ws: LocalWorkspace) -> None:
    register(ws, manifest("one"))
    register(ws, manifest("two"))
    ws.set_data_archived("digits", "2", True)
    assert ws.get_data("digits").version == "1"
    assert ws.get_data("digits", "2").archived  # archived, never deleted
    ws.set_data_archived("digits", "1", True)
    with pytest.raises(NotFoundError, match=r"every version of data digits is archived \(1, 2\)"):
        ws.get_data("digits")
    ws.set_data_archived("digits", "2", False)
    assert ws.get_data("digits").version == "2"


def test_reregistering_archived_content_restores_it(ws: LocalWorkspace) -> None:
    register(ws, manifest("one"))
    ws.set_data_archived("digits", "1", True)
    assert register(ws, manifest("one")) == ("1", False)
    assert not ws.get_data("digits", "1").archived


def test_unknown_assets(ws: LocalWorkspace) -> None:
    with pytest.raises(NotFoundError, match="no catalog"):
        ws.get_data("nope")
    register(ws, manifest("one"))
    with pytest.raises(NotFoundError, match="nope:3 does not exist"):
        ws.get_data("nope", "3")
    assert ws.list_data("nope") == []


def _register_many(catalog: str, worker: int) -> list[str]:
    ws = LocalWorkspace(Path(catalog), "unused", no_blob_storage)
    return [register(ws, manifest(f"w{worker}-{i}"))[0] for i in range(15)]


def test_two_processes_registering_at_once_never_share_a_version(tmp_path: Path) -> None:
    catalog = str(tmp_path / "workspace.db")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_register_many, [(catalog, 0), (catalog, 1)])
    versions = [v for result in results for v in result]
    assert sorted(versions, key=int) == [str(i) for i in range(1, 31)]


@pytest.mark.parametrize(
    ("text", "name", "version"),
    [("digits", "digits", None), ("digits:3", "digits", "3"), ("digits@latest", "digits", None)],
)
def test_asset_refs(text: str, name: str, version: str | None) -> None:
    assert AssetRef.parse(text) == AssetRef(name, version)


def test_bad_asset_ref_says_the_forms() -> None:
    with pytest.raises(NotFoundError, match="NAME:VERSION or NAME@latest"):
        AssetRef.parse("a:b:c")


def test_stored_content_maps_each_hash_to_a_blob_of_a_registered_version(
    tmp_path: Path, endpoint: BlobEndpoint
) -> None:
    ws = LocalWorkspace(tmp_path / "workspace.db", "no-such-container", lambda: endpoint)
    assert ws.stored_content().blobs == {}
    a = manifest("one", "two")
    register(ws, a)
    known = ws.stored_content()
    prefix = upload_prefix(a.digest, "digits")
    assert known.blobs == {e.sha256: f"{prefix}/{e.path}" for e in a.entries}
    assert known.etags == {}  # no completion marker recorded any: copies get verified


def test_a_catalog_from_an_older_schema_is_upgraded_on_open(ws: LocalWorkspace) -> None:

    ws.catalog.path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(ws.catalog.path) as db:  # as the first release wrote it
        db.execute("CREATE TABLE workspace (singleton INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(NotFoundError, match="data digits does not exist"):
        ws.get_data("digits")  # a read works: no "no such table"
    assert register(ws, manifest("one")) == ("1", True)
