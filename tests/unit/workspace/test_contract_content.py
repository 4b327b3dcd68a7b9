"""The workspace contract, content: manifests, blobs, transfers, copies, existence.

The same ``backend`` fixture as ``test_contract.py``: each case runs on the local
emulator and on Azure ML (loopback service + Azurite). A version's files are a plain
folder ``LocalUpload/<hex digest>/<name>/`` of the workspace's datastore, registered only
once every file is stored and verified; a new version copies what the datastore holds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlstack.content.download import download
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.workspace import register_copy, register_folder
from mlstack.workspace.asset import upload_prefix
from tests.unit.workspace.backends import Backend

FILES = {
    "a.txt": b"alpha\n",
    "sub/b.bin": bytes(range(256)) * 40,
    "sub/deep/c.csv": b"x,y\n1,2\n",
    "same-as-a.txt": b"alpha\n",  # duplicate content: one sha256, two blobs
}


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_manifest_and_download_give_back_exactly_what_was_registered(
    backend: Backend, tmp_path: Path
) -> None:
    root = backend.folder(FILES)
    scanned = scan(root, NoCache())
    found = register_folder(backend.ws, "data", "images", root, scanned, type_="uri_folder")

    manifest = backend.ws.data.manifest("images", found.version.version)
    download(backend.ws.endpoint, backend.ws.container, upload_prefix(found.version.digest,
             "images"), manifest, tmp_path / "out", progress=False)  # fmt: skip

    assert manifest == scanned
    assert manifest.digest == found.version.digest
    assert read_tree(tmp_path / "out") == FILES


def test_stored_content_maps_each_sha256_to_a_blob_holding_it(backend: Backend) -> None:
    assert backend.ws.stored_content().blobs == {}
    backend.register(FILES)
    backend.register({"other.txt": b"another asset\n"}, name="labels")

    stored = backend.ws.stored_content("images")

    expected = {hashlib.sha256(data).hexdigest() for data in FILES.values()}
    assert set(stored.blobs) == expected
    container = backend.ws.endpoint.client().get_container_client(backend.ws.container)
    for sha, blob in stored.blobs.items():
        download = container.get_blob_client(blob).download_blob()
        assert hashlib.sha256(download.readall()).hexdigest() == sha
        # Sealed: the ETag the marker recorded is the blob's own, unchanged since.
        assert stored.etags[blob] == download.properties.etag
    assert hashlib.sha256(b"another asset\n").hexdigest() in backend.ws.stored_content().blobs


def test_a_second_version_with_one_changed_file_sends_only_that_file(backend: Backend) -> None:
    first = backend.register(FILES)
    assert first.transfer is not None
    assert (first.transfer.uploaded_files, first.transfer.copied_files) == (3, 1)  # dup copied

    second = backend.register({**FILES, "a.txt": b"alpha, edited\n"})

    assert second.version.version == "2"
    assert second.transfer is not None
    assert (second.transfer.uploaded_files, second.transfer.copied_files) == (1, 3)
    assert second.transfer.uploaded_bytes == len(b"alpha, edited\n")


def test_content_changed_after_the_scan_registers_nothing(backend: Backend) -> None:
    root = backend.folder(FILES)
    scanned = scan(root, NoCache())
    (root / "a.txt").write_bytes(b"ALPHA\n")  # same size, other bytes

    with pytest.raises(WorkspaceError):
        register_folder(backend.ws, "data", "images", root, scanned, type_="uri_folder")

    assert backend.ws.data.list("images") == []
    again = backend.register(FILES)  # the next run converges
    assert (again.version.version, again.new) == ("1", True)


def test_exists_tells_a_workspace_from_one_not_created_yet(backend: Backend) -> None:
    assert backend.ws.exists()
    missing = backend.missing()
    assert not missing.exists()
    assert missing.data.list() == []  # reads as empty, as a first preview plans against it
    with pytest.raises(NotFoundError):
        missing.models.get("cnn")


def test_register_copy_brings_a_version_into_another_workspace(backend: Backend) -> None:
    props = {"metrics": {"accuracy": 0.97}, "source": "dev"}
    source = backend.register(FILES, name="cnn", kind="model", properties=props).version
    target = backend.fresh()

    copied = register_copy(
        target, backend.ws, source, properties=source.properties, description="promoted"
    )

    found = copied.version
    assert (found.version, copied.new, found.kind, found.type) == ("1", True, "model", source.type)
    assert (found.digest, found.files, found.bytes) == (source.digest, source.files, source.bytes)
    assert dict(found.properties) == props
    assert found.uri == (
        f"azureml://datastores/{target.datastore}/paths/{upload_prefix(source.digest, 'cnn')}/"
    )
    assert target.models.manifest("cnn", "1") == backend.ws.models.manifest("cnn", "1")
    assert copied.transfer is not None
    assert (copied.transfer.uploaded_files, copied.transfer.copied_files) == (0, len(FILES))
    assert target.models.get("cnn") == found
    again = register_copy(target, backend.ws, source, properties=source.properties,
                          description="promoted")  # fmt: skip
    assert (again.version.version, again.new) == ("1", False)
