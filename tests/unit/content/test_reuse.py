"""Copy or send: the choice is measured, never changes the result, and survives a crash."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ResourceTypes,
    generate_account_sas,
)

from mlstack.content import calibration, completion
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.calibration import SAMPLE, Costs
from mlstack.content.manifest import Manifest
from mlstack.content.sender import Sender
from mlstack.content.transfer import (
    Choice,
    RetryPolicy,
    TransferReport,
    is_complete,
    marker_name,
    upload,
)
from mlstack.errors import WorkspaceError
from tests.unit.content.trees import blobs, known_from, prefix_of, write_tree

FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.01)


def many(count: int, version: int) -> dict[str, bytes]:
    """``count`` small files; ``version`` changes every tenth of them."""
    return {
        f"{i % 4}/{i:04d}.png": f"image {i} v{version if i % 10 == 0 else 1}".encode()
        for i in range(count)
    }


def send(
    root: Path,
    manifest: Manifest,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    *,
    known: dict[str, str] | None = None,
    choice: Choice = "measure",
) -> TransferReport:
    return upload(root, manifest, endpoint, container.container_name, prefix_of(manifest),
                  known or {}, 4, False, retry=FAST, choice=choice)  # fmt: skip


@pytest.fixture
def other(endpoint: BlobEndpoint) -> Iterator[ContainerClient]:
    with endpoint.client() as service:
        client = service.create_container(f"t-{uuid.uuid4().hex[:16]}")
        yield client
        client.delete_container()


def stored(container: ContainerClient, manifest: Manifest) -> tuple[dict[str, Any], ...]:
    """Everything a reader of the version sees: bytes, metadata, and the marker (whose
    recorded ETags differ from blob to blob, so only which files have one is compared)."""
    prefix = prefix_of(manifest)
    metadata = {
        b.name: b.metadata for b in container.list_blobs(prefix + "/", include=["metadata"])
    }
    marker = json.loads(container.download_blob(marker_name(prefix)).readall())
    sealed = sorted(marker.pop("etags"))
    return (
        blobs(container, prefix),
        {k.removeprefix(prefix): v for k, v in metadata.items()},
        {"marker": marker, "sealed": sealed},
    )


@pytest.mark.parametrize("choice", ["copy", "send"])
def test_copy_or_send_stores_the_same_version(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    other: ContainerClient,
    choice: Choice,
) -> None:
    v1, v2 = many(40, 1), many(40, 2)
    m1, m2 = write_tree(tmp_path / "v1", v1), write_tree(tmp_path / "v2", v2)
    results = []
    for target, how in ((container, "copy"), (other, choice)):
        send(tmp_path / "v1", m1, endpoint, target)
        report = send(tmp_path / "v2", m2, endpoint, target, choice=how,
                      known=known_from(m1, prefix_of(m1)))  # fmt: skip
        results.append(stored(target, m2))
        unchanged = sum(1 for rel in v2 if v1[rel] == v2[rel])
        if how == "send":
            assert (report.resent_files, report.copied_files) == (unchanged, 0)
            assert report.sent_bytes == m2.bytes
        else:
            assert (report.resent_files, report.copied_files) == (0, unchanged)
    assert results[0] == results[1]


def test_enough_small_files_calibrate_the_endpoint_once(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    files = many(10 * SAMPLE + 10, 1)
    m1 = write_tree(tmp_path / "v1", files)
    send(tmp_path / "v1", m1, endpoint, container)
    m2 = write_tree(tmp_path / "v2", many(10 * SAMPLE + 10, 2))

    report = send(tmp_path / "v2", m2, endpoint, container, known=known_from(m1, prefix_of(m1)))

    assert report.copy_ms is not None and report.send_ms is not None
    assert report.resent_files >= SAMPLE  # the timed sends, at least
    assert calibration.costs_of(endpoint.url) is not None  # remembered for the next one
    assert blobs(container, prefix_of(m2)) == many(10 * SAMPLE + 10, 2)


@pytest.mark.parametrize("slow", ["copy", "send"])
def test_the_kind_that_costs_the_server_more_is_avoided(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
    slow: str,
) -> None:
    # A server that serves one request at a time, a copy or a send costing it 20 ms and
    # the other kind 2 ms: every waiting request's latency includes the queue ahead of it,
    # so only the batches' throughput tells the kinds apart reliably.
    server = threading.Lock()

    def serial(method: str) -> None:
        original = getattr(Sender, method)
        cost = 0.02 if (method == "copy") == (slow == "copy") else 0.002

        def served(self: Sender, *args: Any) -> Any:
            with server:
                time.sleep(cost)
            return original(self, *args)

        monkeypatch.setattr(Sender, method, served)

    v1, v2 = many(10 * SAMPLE, 1), many(10 * SAMPLE, 2)
    m1, m2 = write_tree(tmp_path / "v1", v1), write_tree(tmp_path / "v2", v2)
    send(tmp_path / "v1", m1, endpoint, container)
    serial("copy")
    serial("_send_once")

    report = send(tmp_path / "v2", m2, endpoint, container, known=known_from(m1, prefix_of(m1)))

    unchanged = sum(1 for rel in v2 if v1[rel] == v2[rel])
    if slow == "copy":  # only the timed copies were copied
        assert (report.copied_files, report.resent_files) == (SAMPLE, unchanged - SAMPLE)
    else:  # only the timed sends were sent
        assert (report.copied_files, report.resent_files) == (unchanged - SAMPLE, SAMPLE)
    assert blobs(container, prefix_of(m2)) == v2


def test_copies_dearer_in_bulk_than_the_sample_said_are_given_up_after_one_chunk(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As on LokiJS once: the first chunk's wall time per copy replaces the estimate."""
    v1 = many(8 * SAMPLE, 1)
    v2 = {**v1, "new.txt": b"new"}
    m1, m2 = write_tree(tmp_path / "v1", v1), write_tree(tmp_path / "v2", v2)
    send(tmp_path / "v1", m1, endpoint, container)
    calibration.remember(endpoint.url, Costs(copy_s=0.001, send_s=0.002, largest_sent=100))
    server, original = threading.Lock(), Sender.copy

    def dear(self: Sender, *args: Any) -> Any:  # 50 ms of a server that serves one at a time
        with server:
            time.sleep(0.05)
        return original(self, *args)

    monkeypatch.setattr(Sender, "copy", dear)
    report = send(tmp_path / "v2", m2, endpoint, container, known=known_from(m1, prefix_of(m1)))

    chunk = 2 * SAMPLE  # the smallest chunk; 8 chunks of 256 steps would be smaller
    assert (report.copied_files, report.resent_files) == (chunk, len(v1) - chunk)
    assert blobs(container, prefix_of(m2)) == v2


def test_measured_costs_decide_per_file(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    v1 = {**many(20, 1), "big.bin": b"b" * 600_000}
    v2 = {**many(20, 2), "big.bin": b"b" * 600_000}
    m1, m2 = write_tree(tmp_path / "v1", v1), write_tree(tmp_path / "v2", v2)
    send(tmp_path / "v1", m1, endpoint, container)
    calibration.remember(endpoint.url, Costs(copy_s=0.010, send_s=0.002, largest_sent=100))

    report = send(tmp_path / "v2", m2, endpoint, container, known=known_from(m1, prefix_of(m1)))

    # Small unchanged files were cheaper to send; the large one is copied whatever the costs.
    assert report.resent_files == sum(1 for rel in many(20, 2) if v1[rel] == v2[rel])
    assert (report.copied_files, report.copied_bytes) == (1, 600_000)
    assert blobs(container, prefix_of(m2)) == v2


def test_no_local_files_means_copies_whatever_the_choice(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    m1 = write_tree(tmp_path / "v1", many(10, 1))
    send(tmp_path / "v1", m1, endpoint, container)
    report = upload(tmp_path / "absent", m1, endpoint, container.container_name, "copies/x",
                    known_from(m1, prefix_of(m1)), 4, False, retry=FAST, choice="send")  # fmt: skip
    assert (report.copied_files, report.sent_bytes) == (10, 0)


@pytest.mark.parametrize("choice", ["copy", "send"])
def test_a_crash_mid_transfer_leaves_no_version_and_the_rerun_completes(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
    choice: Choice,
) -> None:
    v1, v2 = many(30, 1), many(30, 2)
    m1, m2 = write_tree(tmp_path / "v1", v1), write_tree(tmp_path / "v2", v2)
    send(tmp_path / "v1", m1, endpoint, container)
    known = known_from(m1, prefix_of(m1))
    method = "_start_copy" if choice == "copy" else "_put"
    real = getattr(Sender, method)
    calls: list[object] = []

    def crash_on_the_tenth(self: object, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 10:
            refused = HttpResponseError("injected")
            refused.status_code = 403
            raise refused
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Sender, method, crash_on_the_tenth)
    with pytest.raises(WorkspaceError, match="HTTP 403"):
        send(tmp_path / "v2", m2, endpoint, container, known=known, choice=choice)
    assert not is_complete(endpoint, container.container_name, prefix_of(m2), m2.digest)
    assert not container.get_blob_client(marker_name(prefix_of(m2))).exists()

    monkeypatch.setattr(Sender, method, real)
    report = send(tmp_path / "v2", m2, endpoint, container, known=known, choice=choice)

    assert report.skipped_files > 0  # what the crashed run finished is kept
    assert report.files == len(v2)
    assert blobs(container, prefix_of(m2)) == v2
    assert is_complete(endpoint, container.container_name, prefix_of(m2), m2.digest)


def test_requests_are_counted_by_kind(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient
) -> None:
    files = many(12, 1)
    m1 = write_tree(tmp_path / "v1", files)

    first = send(tmp_path / "v1", m1, endpoint, container)
    again = send(tmp_path / "v1", m1, endpoint, container)

    # marker read, listing before, one PUT per file, marker PUT; nothing copied, so no
    # listing after: each PUT proved its own blob
    assert dict(first.requests_by_kind) == {"get": 1, "list": 1, "put": len(files) + 1}
    assert first.requests == len(files) + 3
    assert dict(again.requests_by_kind) == {"get": 1}  # a stored version: its marker only
    assert first.to_dict()["requests_by_kind"] == {"get": 1, "list": 1, "put": len(files) + 1}
    assert list(first.to_dict()) == sorted(first.to_dict())


def test_listing_reads_every_page_and_any_name(
    tmp_path: Path,
    endpoint: BlobEndpoint,
    container: ContainerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(completion, "PAGE", 2)
    files = {"a b/c&d.txt": b"1", "ünï/ç%20.csv": b"2", "x/<y>.bin": b"3", "z'q\"w.txt": b"4"}
    files |= {f"n/{i}.txt": str(i).encode() for i in range(5)}
    manifest = write_tree(tmp_path, files)
    send(tmp_path, manifest, endpoint, container)

    listed = completion.listing(container, prefix_of(manifest), FAST)

    assert {name.removeprefix(prefix_of(manifest) + "/") for name in listed} == set(files)
    assert all(sha is not None for _, sha in listed.values())
    assert send(tmp_path, manifest, endpoint, container).skipped_files == len(files)


class _SasEndpoint(BlobEndpoint):
    """The endpoint of a datastore that holds a container SAS token instead of a key."""

    def client(self, **settings: Any) -> BlobServiceClient:
        sas = generate_account_sas(
            self.account, self.key, ResourceTypes(container=True, object=True),
            AccountSasPermissions(read=True, write=True, list=True, create=True, add=True),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )  # fmt: skip
        keyed = super().client(**settings)
        return BlobServiceClient(self.url, credential=sas, api_version=keyed.api_version)


def test_a_sas_endpoint_lists_copies_and_patches(
    tmp_path: Path, endpoint: BlobEndpoint, container: ContainerClient, other: ContainerClient
) -> None:
    """A SAS rides in the URL's query: listings, copy sources (also from another
    container) and block lists must keep it."""
    sas = _SasEndpoint(endpoint.url, endpoint.account, endpoint.key)
    big = bytes(range(256)) * (20 * 1024)  # 5 MiB: sent by blocks
    v1, v2 = {**many(20, 1), "big.bin": big}, {**many(20, 2), "big.bin": big[:-1] + b"!"}
    m1, m2 = write_tree(tmp_path / "v1", v1), write_tree(tmp_path / "v2", v2)
    send(tmp_path / "v1", m1, sas, container)  # type: ignore[arg-type]
    known = {e.sha256: f"/{container.container_name}/{prefix_of(m1)}/{e.path}" for e in m1.entries}

    report = send(tmp_path / "v2", m2, sas, other, known=known)  # type: ignore[arg-type]

    assert report.copied_files == sum(1 for rel in many(20, 2) if v1[rel] == v2[rel])
    assert report.patched_files == 1 and report.sent_bytes < len(big)
    assert blobs(other, prefix_of(m2)) == v2
    assert is_complete(endpoint, other.container_name, prefix_of(m2), m2.digest)
