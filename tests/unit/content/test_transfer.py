"""Upload, reuse, resume and download against the session's real Azurite."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError
from azure.core.rest import HttpRequest
from azure.storage.blob import BlobClient, ContainerClient

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.completion import Known, read_sealed
from mlstack.content.download import download
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.sender import Sender
from mlstack.content.transfer import (
    RetryPolicy,
    TransferReport,
    is_complete,
    marker_name,
    upload,
)
from mlstack.errors import WorkspaceError
from tests.unit.content.trees import blobs, known_from, prefix_of, write_tree

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
FILES = {
    "train.csv": b"a,b\n" + b"1,2\n" * 2000,
    "test.csv": b"a,b\n" + b"3,4\n" * 500,
    "images/cat.png": bytes(range(256)) * 40,
    "images/dog.png": bytes(reversed(range(256))) * 40,
    "labels/readme.txt": b"two classes\n",
}


def send(
    root: Path,
    manifest: Manifest,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    prefix: str,
    *,
    known: Known | dict[str, str] | None = None,
) -> TransferReport:
    name = container.container_name
    return upload(root, manifest, endpoint, name, prefix, known or {}, 4, False, retry=FAST)


def test_first_upload_sends_every_byte_into_a_plain_folder(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    files = {**FILES, "big.bin": b"\x07" * (5 * 1024 * 1024 + 3)}  # above one PUT: blocks
    manifest = write_tree(tmp_path, files)
    prefix = prefix_of(manifest)
    assert not is_complete(endpoint, container.container_name, prefix, manifest.digest)

    report = send(tmp_path, manifest, endpoint, container, prefix)

    assert (report.uploaded_files, report.uploaded_bytes) == (len(files), manifest.bytes)
    assert (report.copied_files, report.skipped_files) == (0, 0)
    assert blobs(container, prefix) == files  # the folder holds the asset and nothing else
    for entry in manifest.entries:
        props = container.get_blob_client(f"{prefix}/{entry.path}").get_blob_properties()
        assert props.metadata == {"sha256": entry.sha256}
    marker = container.get_blob_client(marker_name(prefix))
    assert not marker_name(prefix).startswith(prefix + "/")
    assert Manifest.from_json(marker.download_blob().readall().decode()) == manifest
    assert is_complete(endpoint, container.container_name, prefix, manifest.digest)
    assert not is_complete(endpoint, container.container_name, prefix, "sha256:" + "0" * 64)


def test_second_upload_of_the_same_digest_sends_nothing(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    send(tmp_path, manifest, endpoint, container, prefix)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a complete version must not be written again")

    monkeypatch.setattr(BlobClient, "upload_blob", refuse)
    monkeypatch.setattr(Sender, "_put", refuse)
    monkeypatch.setattr(Sender, "_start_copy", refuse)
    report = send(tmp_path, manifest, endpoint, container, prefix)

    assert (report.uploaded_files, report.copied_files) == (0, 0)
    assert (report.skipped_files, report.skipped_bytes) == (len(FILES), manifest.bytes)


def test_new_version_sends_the_changed_file_and_copies_the_rest(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    v1 = write_tree(tmp_path / "v1", FILES)
    send(tmp_path / "v1", v1, endpoint, container, prefix_of(v1))
    changed = {**FILES, "labels/readme.txt": b"three classes now\n"}
    v2 = write_tree(tmp_path / "v2", changed)
    prefix = prefix_of(v2)

    report = send(
        tmp_path / "v2", v2, endpoint, container, prefix, known=known_from(v1, prefix_of(v1))
    )

    assert (report.uploaded_files, report.uploaded_bytes) == (1, len(changed["labels/readme.txt"]))
    assert report.copied_files == len(FILES) - 1
    assert report.copied_bytes == v2.bytes - report.uploaded_bytes
    assert blobs(container, prefix) == changed
    assert is_complete(endpoint, container.container_name, prefix, v2.digest)


def test_content_in_another_container_of_the_account_is_copied_not_sent(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    """How a promotion moves a version between two workspaces' datastores."""
    manifest = write_tree(tmp_path / "v1", FILES)
    prefix = prefix_of(manifest)
    send(tmp_path / "v1", manifest, endpoint, container, prefix)
    source = {e.sha256: f"/{container.container_name}/{prefix}/{e.path}" for e in manifest.entries}
    with endpoint.client() as service:
        target = service.create_container(f"t-{uuid.uuid4().hex[:16]}")
        try:
            # No local files at all: everything must come from the other container.
            report = send(tmp_path / "absent", manifest, endpoint, target, prefix, known=source)
            assert (report.uploaded_files, report.copied_files) == (0, len(FILES))
            assert blobs(target, prefix) == FILES
            assert is_complete(endpoint, target.container_name, prefix, manifest.digest)
        finally:
            target.delete_container()


def test_rerun_after_a_crash_sends_only_the_missing_files_then_marks_complete(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    done = manifest.entries[:2]
    for entry in done:  # what a crashed run had finished: blobs with metadata, no marker
        container.upload_blob(
            f"{prefix}/{entry.path}", FILES[entry.path], metadata={"sha256": entry.sha256}
        )
    assert not is_complete(endpoint, container.container_name, prefix, manifest.digest)

    report = send(tmp_path, manifest, endpoint, container, prefix)

    assert report.skipped_files == 2
    assert report.skipped_bytes == sum(e.size for e in done)
    assert report.uploaded_files == len(FILES) - 2
    assert blobs(container, prefix) == FILES
    assert is_complete(endpoint, container.container_name, prefix, manifest.digest)


def test_a_blob_with_the_wrong_sha256_metadata_is_sent_again(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    container.upload_blob(f"{prefix}/test.csv", b"half-written", metadata={"sha256": "0" * 64})

    report = send(tmp_path, manifest, endpoint, container, prefix)

    assert report.uploaded_files == len(FILES)
    assert blobs(container, prefix)["test.csv"] == FILES["test.csv"]


def test_content_repeated_within_a_version_is_sent_once(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    files = {"a/same.bin": b"x" * 3000, "b/same.bin": b"x" * 3000, "c/other.bin": b"y"}
    manifest = write_tree(tmp_path, files)
    prefix = prefix_of(manifest)

    report = send(tmp_path, manifest, endpoint, container, prefix)

    assert (report.uploaded_files, report.uploaded_bytes) == (2, 3001)
    assert (report.copied_files, report.copied_bytes) == (1, 3000)
    assert blobs(container, prefix) == files
    # The duplicate is copied on condition of the ETag its source was just sent with, so
    # nothing is listed after the copies.
    assert dict(report.requests_by_kind)["list"] == 1


def etags_of(container: ContainerClient, prefix: str) -> dict[str, str]:
    """Each blob's ETag as a GET gives it (quoted; a listing drops the quotes), by path."""
    names = (b.name for b in container.list_blobs(name_starts_with=prefix + "/"))
    return {
        name.removeprefix(prefix + "/"): container.get_blob_client(name).get_blob_properties().etag
        for name in names
    }


def sealed_known(endpoint: BlobEndpoint, container: ContainerClient, prefix: str) -> Known:
    """What a workspace's ``stored_content`` gives for the version stored at ``prefix``."""
    sealed = read_sealed(endpoint, container.container_name, prefix)
    assert sealed is not None
    known = Known()
    known.add(prefix, sealed.manifest, sealed.etags)
    return known


def test_the_marker_records_the_etag_of_every_blob_stored(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    big = bytes(range(256)) * (20 * 1024)  # 5 MiB: committed by blocks
    files = {**FILES, "big.bin": big, "copy.csv": FILES["test.csv"]}
    manifest = write_tree(tmp_path, files)
    prefix = prefix_of(manifest)
    send(tmp_path, manifest, endpoint, container, prefix)

    sealed = read_sealed(endpoint, container.container_name, prefix)

    assert sealed is not None and sealed.manifest == manifest
    assert sealed.etags == etags_of(container, prefix)


@pytest.mark.parametrize("seals", [True, False], ids=["sealed", "unsealed"])
def test_copies_from_sealed_sources_need_no_listing_after(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient, seals: bool
) -> None:
    v1 = write_tree(tmp_path / "v1", FILES)
    send(tmp_path / "v1", v1, endpoint, container, prefix_of(v1))
    v2 = write_tree(tmp_path / "v2", {**FILES, "new.txt": b"new"})
    sealed = sealed_known(endpoint, container, prefix_of(v1))
    known = sealed if seals else sealed.blobs  # a marker of an earlier release records none

    report = send(tmp_path / "v2", v2, endpoint, container, prefix_of(v2), known=known)

    assert (report.uploaded_files, report.copied_files) == (1, len(FILES))
    assert dict(report.requests_by_kind)["list"] == (1 if seals else 2)
    assert blobs(container, prefix_of(v2)) == {**FILES, "new.txt": b"new"}
    assert is_complete(endpoint, container.container_name, prefix_of(v2), v2.digest)


def stored_then_tampered(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> tuple[Manifest, Known]:
    """v1 stored and its sealed content read; then train.csv overwritten keeping its sha256
    metadata: a change no listing would notice."""
    v1 = write_tree(tmp_path / "v1", FILES)
    send(tmp_path / "v1", v1, endpoint, container, prefix_of(v1))
    known = sealed_known(endpoint, container, prefix_of(v1))
    blob = container.get_blob_client(f"{prefix_of(v1)}/train.csv")
    metadata = blob.get_blob_properties().metadata
    blob.upload_blob(b"not the training data", overwrite=True, metadata=metadata)
    return v1, known


def test_a_sealed_source_changed_since_is_sent_not_copied(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    _, known = stored_then_tampered(tmp_path, endpoint, container)
    v2 = write_tree(tmp_path / "v2", {**FILES, "new.txt": b"new"})

    report = send(tmp_path / "v2", v2, endpoint, container, prefix_of(v2), known=known)

    # The copy of train.csv was refused (412: its source's ETag changed); it was sent.
    assert (report.uploaded_files, report.copied_files) == (2, len(FILES) - 1)
    assert blobs(container, prefix_of(v2)) == {**FILES, "new.txt": b"new"}
    assert is_complete(endpoint, container.container_name, prefix_of(v2), v2.digest)


def test_a_copy_without_local_files_from_a_changed_source_names_it(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    """A promotion has nothing to send instead: it stops before registering anything."""
    v1, known = stored_then_tampered(tmp_path, endpoint, container)
    target = "copies/iris"

    with pytest.raises(WorkspaceError, match=r"'train\.csv'.*changed after its version was stored"):
        send(tmp_path / "absent", v1, endpoint, container, target, known=known)
    assert not is_complete(endpoint, container.container_name, target, v1.digest)


def test_stale_known_sources_fall_back_to_sending_from_the_client(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    by_path = manifest.by_path()
    container.upload_blob("elsewhere/liar.csv", b"other bytes", metadata={"sha256": "f" * 64})
    known = {
        by_path["train.csv"].sha256: "elsewhere/gone.csv",  # deleted since it was recorded
        by_path["test.csv"].sha256: "elsewhere/liar.csv",  # holds something else
    }

    report = send(tmp_path, manifest, endpoint, container, prefix, known=known)

    assert (report.uploaded_files, report.copied_files) == (len(FILES), 0)
    assert blobs(container, prefix) == FILES
    assert is_complete(endpoint, container.container_name, prefix, manifest.digest)


def test_a_copy_the_service_reports_pending_is_awaited(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v1 = write_tree(tmp_path / "v1", FILES)
    send(tmp_path / "v1", v1, endpoint, container, prefix_of(v1))
    v2 = write_tree(tmp_path / "v2", {**FILES, "new.txt": b"new"})
    real = Sender._start_copy
    started: list[str] = []

    def pending(self: Sender, *args: Any, **kwargs: Any) -> Any:
        started.append(real(self, *args, **kwargs)["x-ms-copy-id"])
        return {"x-ms-copy-status": "pending", "x-ms-copy-id": started[-1]}  # as Azure may say

    monkeypatch.setattr(Sender, "_start_copy", pending)
    report = send(
        tmp_path / "v2", v2, endpoint, container, prefix_of(v2), known=known_from(v1, prefix_of(v1))
    )

    assert (report.uploaded_files, report.copied_files, len(started)) == (1, len(FILES), 5)
    assert dict(report.requests_by_kind)["get"] > 1  # the marker, then the copies' statuses
    assert blobs(container, prefix_of(v2)) == {**FILES, "new.txt": b"new"}
    # Their ETags, recorded once they settled, are those of the blobs.
    sealed = read_sealed(endpoint, container.container_name, prefix_of(v2))
    assert sealed is not None
    assert sealed.etags == etags_of(container, prefix_of(v2))


def test_a_stray_blob_in_the_folder_is_refused_before_anything_is_sent(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    container.upload_blob(f"{prefix}/notes/extra.txt", b"not part of the asset")

    with pytest.raises(WorkspaceError, match=r"notes/extra\.txt: not in the manifest"):
        send(tmp_path, manifest, endpoint, container, prefix)
    assert set(blobs(container, prefix)) == {"notes/extra.txt"}
    assert not is_complete(endpoint, container.container_name, prefix, manifest.digest)


@pytest.mark.parametrize(
    "edited",
    [FILES["test.csv"].replace(b"3", b"9"), FILES["test.csv"] + b"5,6\n"],
    ids=["same-size", "grown"],
)
def test_a_file_edited_after_hashing_is_refused_and_not_left_behind(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient, edited: bytes
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    (tmp_path / "test.csv").write_bytes(edited)

    with pytest.raises(WorkspaceError, match=r"test\.csv changed since it was hashed"):
        send(tmp_path, manifest, endpoint, container, prefix)
    assert "test.csv" not in blobs(container, prefix)
    assert not is_complete(endpoint, container.container_name, prefix, manifest.digest)


def test_a_body_damaged_on_the_way_is_refused_by_the_service(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    real = Sender._send

    def damage(self: Sender, request: HttpRequest) -> Any:
        if request.url.split("?")[0].endswith("/test.csv"):  # one flipped byte, same length
            body = bytes([request.content[0] ^ 1]) + request.content[1:]
            request = HttpRequest("PUT", request.url, headers=request.headers, content=body)
        return real(self, request)

    monkeypatch.setattr(Sender, "_send", damage)
    # Azure answers Md5Mismatch, Azurite InvalidOperation ("Provided contentMD5 doesn't match")
    with pytest.raises(WorkspaceError, match=r"test\.csv.* failed: HTTP 400"):
        send(tmp_path, manifest, endpoint, container, prefix)
    assert "test.csv" not in blobs(container, prefix)
    assert not is_complete(endpoint, container.container_name, prefix, manifest.digest)


def test_unsafe_manifest_paths_are_refused(tmp_path: Path, endpoint: BlobEndpoint) -> None:
    manifest = Manifest.of([FileEntry("../escape.txt", 1, "0" * 64)])
    with pytest.raises(WorkspaceError, match="not a plain relative path"):
        upload(tmp_path, manifest, endpoint, "any", "LocalUpload/x/y", {}, progress=False)
    with pytest.raises(WorkspaceError, match="not a plain relative path"):
        download(endpoint, "any", "LocalUpload/x/y", manifest, tmp_path, progress=False)


def fail_for(monkeypatch: pytest.MonkeyPatch, blob: str, error: Exception, times: int) -> list[str]:
    """Make the request that sends blob ``blob`` raise ``error`` the first ``times`` calls."""
    calls: list[str] = []
    real = Sender._put

    def flaky(self: Sender, name: str, *args: Any) -> Any:
        if name == blob:
            calls.append(blob)
            if len(calls) <= times:
                raise error
        return real(self, name, *args)

    monkeypatch.setattr(Sender, "_put", flaky)
    return calls


def test_a_transient_failure_is_retried(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    calls = fail_for(monkeypatch, f"{prefix}/test.csv", ServiceRequestError("reset"), times=1)

    report = send(tmp_path, manifest, endpoint, container, prefix)

    assert len(calls) == 2
    assert report.uploaded_files == len(FILES)
    assert blobs(container, prefix) == FILES


def test_a_failure_that_persists_names_the_file_and_no_secret(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    calls = fail_for(monkeypatch, f"{prefix}/test.csv", ServiceRequestError("refused"), 99)

    with pytest.raises(WorkspaceError, match="after 3 attempts") as caught:
        send(tmp_path, manifest, endpoint, container, prefix)

    assert len(calls) == FAST.attempts
    assert "'test.csv'" in str(caught.value)
    assert endpoint.key not in str(caught.value)
    assert not is_complete(endpoint, container.container_name, prefix, manifest.digest)


def test_a_refusal_is_not_retried(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = write_tree(tmp_path, FILES)
    prefix = prefix_of(manifest)
    denied = HttpResponseError("denied")
    denied.status_code = 403
    calls = fail_for(monkeypatch, f"{prefix}/train.csv", denied, 99)

    with pytest.raises(WorkspaceError, match=r"uploading 'train\.csv'.*HTTP 403"):
        send(tmp_path, manifest, endpoint, container, prefix)
    assert len(calls) == 1


def test_download_round_trips_and_resumes(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = write_tree(tmp_path / "src", FILES)
    prefix = prefix_of(manifest)
    send(tmp_path / "src", manifest, endpoint, container, prefix)
    dest = tmp_path / "dest"

    download(endpoint, container.container_name, prefix, manifest, dest, 4, False, retry=FAST)
    got = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert got == FILES  # byte for byte, and no temporary files left behind

    (dest / "train.csv").unlink()
    (dest / "test.csv").write_bytes(b"corrupted locally")
    fetched: list[str] = []
    real = BlobClient.download_blob

    def spy(self: BlobClient, *args: Any, **kwargs: Any) -> Any:
        fetched.append(self.blob_name.removeprefix(prefix + "/"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(BlobClient, "download_blob", spy)
    download(endpoint, container.container_name, prefix, manifest, dest, 4, False, retry=FAST)

    assert sorted(fetched) == ["test.csv", "train.csv"]
    assert (dest / "test.csv").read_bytes() == FILES["test.csv"]
    assert (dest / "train.csv").read_bytes() == FILES["train.csv"]


def test_download_detects_a_tampered_blob(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    manifest = write_tree(tmp_path / "src", FILES)
    prefix = prefix_of(manifest)
    send(tmp_path / "src", manifest, endpoint, container, prefix)
    entry = manifest.by_path()["images/cat.png"]
    container.upload_blob(  # same size and metadata, different bytes
        f"{prefix}/images/cat.png",
        b"\x00" * entry.size,
        overwrite=True,
        metadata={"sha256": entry.sha256},
    )
    dest = tmp_path / "dest"

    with pytest.raises(WorkspaceError, match=r"images/cat\.png.*does not hold the content"):
        download(endpoint, container.container_name, prefix, manifest, dest, 4, False)
    assert not (dest / "images/cat.png").exists()
    assert not list((dest / "images").glob(".*.part"))
