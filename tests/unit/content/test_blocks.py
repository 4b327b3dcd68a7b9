"""Large files by blocks: a changed file reuses its previous blob's blocks server-side."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobBlock, BlobClient, ContainerClient

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.blocks import BLOCK_SIZE, block_id, content_of, file_blocks
from mlstack.content.completion import Known, read_sealed
from mlstack.content.manifest import Manifest
from mlstack.content.transfer import RetryPolicy, TransferReport, is_complete, upload
from mlstack.errors import WorkspaceError
from tests.unit.content.trees import blobs, known_from, prefix_of, write_tree

FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.01)
BIG = random.Random(7).randbytes(2 * BLOCK_SIZE + 12345)  # noqa: S311 - test data; 3 blocks
SMALL = {"labels.csv": b"a,b\n1,2\n", "readme.txt": b"big data\n"}


def send(
    root: Path, manifest: Manifest, endpoint: BlobEndpoint, container: ContainerClient, **kw: Any
) -> TransferReport:
    prefix = prefix_of(manifest)
    known = kw.pop("known", {})
    return upload(root, manifest, endpoint, container.container_name, prefix, known, 4, False,
                  retry=FAST, **kw)  # fmt: skip


def edit(data: bytes, offset: int) -> bytes:
    """``data`` with the byte at ``offset`` flipped: a one-byte change."""
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]


def two_versions(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient, big_v2: bytes
) -> tuple[Manifest, Manifest, dict[str, bytes], TransferReport]:
    """Store v1 (BIG), then v2 (``big_v2``) knowing v1: what a new data version does."""
    v1 = write_tree(tmp_path / "v1", {**SMALL, "data/big.bin": BIG})
    send(tmp_path / "v1", v1, endpoint, container)
    files = {**SMALL, "data/big.bin": big_v2}
    v2 = write_tree(tmp_path / "v2", files)
    report = send(tmp_path / "v2", v2, endpoint, container, known=known_from(v1, prefix_of(v1)))
    return v1, v2, files, report


def test_block_ids_name_index_and_content() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    name = block_id(3, sha)
    assert len(name) == 48 and name.startswith("00000003")
    assert content_of(name) == sha[:40]
    assert content_of("a-random-sdk-block-id") is None
    assert content_of("0000000z" + sha[:40]) is None


def test_file_blocks_hash_each_block_and_the_whole(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(BIG)
    hashes, whole, read = file_blocks(path)
    assert read == len(BIG) and whole == hashlib.sha256(BIG).hexdigest()
    assert hashes == [
        hashlib.sha256(BIG[i : i + BLOCK_SIZE]).hexdigest() for i in range(0, len(BIG), BLOCK_SIZE)
    ]


@pytest.mark.parametrize(
    ("where", "sent"),
    [(5, BLOCK_SIZE), (BLOCK_SIZE + 7, BLOCK_SIZE), (len(BIG) - 1, len(BIG) - 2 * BLOCK_SIZE)],
    ids=["first-block", "middle-block", "last-partial-block"],
)
def test_a_one_byte_change_sends_one_block_and_the_blob_is_byte_identical(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient, where: int, sent: int
) -> None:
    _, v2, files, report = two_versions(tmp_path, endpoint, container, edit(BIG, where))

    assert (report.patched_files, report.patched_bytes) == (1, len(BIG))
    assert (report.sent_bytes, report.reused_bytes) == (sent, len(BIG) - sent)
    assert report.copied_files == len(SMALL)
    kinds = dict(report.requests_by_kind)
    assert (kinds["block"], kinds["blocklist"], kinds["copy"]) == (1, 1, len(SMALL) + 1)
    assert blobs(container, prefix_of(v2)) == files  # byte for byte
    blob = container.get_blob_client(f"{prefix_of(v2)}/data/big.bin")
    sha256 = hashlib.sha256(files["data/big.bin"]).hexdigest()
    assert blob.get_blob_properties().metadata == {"sha256": sha256}
    assert is_complete(endpoint, container.container_name, prefix_of(v2), v2.digest)


def test_a_grown_file_reuses_its_blocks_and_sends_the_new_tail(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    grown = BIG + os.urandom(BLOCK_SIZE)
    _, v2, files, report = two_versions(tmp_path, endpoint, container, grown)

    assert report.patched_files == 1
    assert report.reused_bytes == 2 * BLOCK_SIZE  # the full blocks; the old tail block differs
    assert report.sent_bytes == len(grown) - 2 * BLOCK_SIZE
    assert blobs(container, prefix_of(v2)) == files


def test_a_base_without_our_block_ids_is_not_reused(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    """A blob written by another tool (the SDK's own block IDs) cannot vouch for its blocks."""
    v1 = write_tree(tmp_path / "v1", {"data/big.bin": BIG})
    container.upload_blob(f"{prefix_of(v1)}/data/big.bin", BIG, max_concurrency=2,
                          metadata={"sha256": v1.entries[0].sha256})  # fmt: skip
    v2 = write_tree(tmp_path / "v2", {"data/big.bin": edit(BIG, 9)})

    report = send(tmp_path / "v2", v2, endpoint, container, known=known_from(v1, prefix_of(v1)))

    assert (report.uploaded_files, report.patched_files, report.sent_bytes) == (1, 0, len(BIG))
    assert blobs(container, prefix_of(v2)) == {"data/big.bin": edit(BIG, 9)}


def test_a_base_changed_since_its_version_was_stored_is_not_reused(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    """Even one whose block IDs still claim their old content: the copy of the base is
    conditional on the ETag v1's marker recorded, so the service refuses it (412)."""
    v1 = write_tree(tmp_path / "v1", {"data/big.bin": BIG})
    send(tmp_path / "v1", v1, endpoint, container)
    sealed = read_sealed(endpoint, container.container_name, prefix_of(v1))
    assert sealed is not None
    known = Known()
    known.add(prefix_of(v1), sealed.manifest, sealed.etags)
    base = container.get_blob_client(f"{prefix_of(v1)}/data/big.bin")
    committed, _ = base.get_block_list("committed")
    base.stage_block(committed[0].id, bytes(BLOCK_SIZE))  # zeros under block 0's ID
    base.commit_block_list([BlobBlock(b.id) for b in committed],
                           metadata=base.get_blob_properties().metadata)  # fmt: skip
    changed = edit(BIG, len(BIG) - 1)  # blocks 0 and 1 would be reused
    v2 = write_tree(tmp_path / "v2", {"data/big.bin": changed})

    report = send(tmp_path / "v2", v2, endpoint, container, known=known)

    assert (report.uploaded_files, report.patched_files, report.sent_bytes) == (1, 0, len(BIG))
    assert blobs(container, prefix_of(v2)) == {"data/big.bin": changed}


def test_blocks_reused_through_a_copied_version(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    """v2 only copies big.bin (a copy keeps its block list); v3 patches it from v2's copy."""
    v1 = write_tree(tmp_path / "v1", {"data/big.bin": BIG, "a.txt": b"1"})
    send(tmp_path / "v1", v1, endpoint, container)
    v2 = write_tree(tmp_path / "v2", {"data/big.bin": BIG, "a.txt": b"2"})
    copied = send(tmp_path / "v2", v2, endpoint, container, known=known_from(v1, prefix_of(v1)))
    assert (copied.copied_files, copied.uploaded_files) == (1, 1)
    only_v2 = {e.sha256: f"{prefix_of(v2)}/{e.path}" for e in v2.entries}
    v3 = write_tree(tmp_path / "v3", {"data/big.bin": edit(BIG, 1), "a.txt": b"2"})

    report = send(tmp_path / "v3", v3, endpoint, container, known=only_v2)

    assert (report.patched_files, report.sent_bytes) == (1, BLOCK_SIZE)
    assert blobs(container, prefix_of(v3)) == {"data/big.bin": edit(BIG, 1), "a.txt": b"2"}


def test_a_crash_before_the_commit_leaves_no_version_and_the_rerun_completes(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    v1 = write_tree(tmp_path / "v1", {**SMALL, "data/big.bin": BIG})
    send(tmp_path / "v1", v1, endpoint, container)
    files = {**SMALL, "data/big.bin": edit(BIG, 3)}
    v2 = write_tree(tmp_path / "v2", files)
    known = known_from(v1, prefix_of(v1))
    real = BlobClient.commit_block_list

    def crash(self: BlobClient, *args: Any, **kwargs: Any) -> Any:
        denied = HttpResponseError("injected")
        denied.status_code = 403
        raise denied

    monkeypatch.setattr(BlobClient, "commit_block_list", crash)
    with pytest.raises(WorkspaceError, match="committing the blocks"):
        send(tmp_path / "v2", v2, endpoint, container, known=known)
    assert not is_complete(endpoint, container.container_name, prefix_of(v2), v2.digest)
    left = container.get_blob_client(f"{prefix_of(v2)}/data/big.bin")
    if left.exists():  # the copied base: the old bytes under the old sha256, never the new
        assert left.get_blob_properties().metadata["sha256"] == hashlib.sha256(BIG).hexdigest()

    monkeypatch.setattr(BlobClient, "commit_block_list", real)
    report = send(tmp_path / "v2", v2, endpoint, container, known=known)

    assert report.patched_files == 1
    assert blobs(container, prefix_of(v2)) == files
    assert is_complete(endpoint, container.container_name, prefix_of(v2), v2.digest)


def test_a_file_edited_between_hashing_and_sending_is_refused(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    v1 = write_tree(tmp_path / "v1", {"data/big.bin": BIG})
    send(tmp_path / "v1", v1, endpoint, container)
    v2 = write_tree(tmp_path / "v2", {"data/big.bin": edit(BIG, 3)})
    (tmp_path / "v2/data/big.bin").write_bytes(edit(BIG, 4))  # after the manifest was made

    with pytest.raises(WorkspaceError, match="changed since it was hashed"):
        send(tmp_path / "v2", v2, endpoint, container, known=known_from(v1, prefix_of(v1)))
    assert not is_complete(endpoint, container.container_name, prefix_of(v2), v2.digest)
