"""The data-asset benchmark's material: generated folders, registrations, raw anchors."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench._common import MIB, peak_rss_mib, timed
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.scan import scan
from mlstack.content.transfer import Choice, upload
from mlstack.workspace.asset import datastore_uri, upload_prefix
from mlstack.workspace.local import LocalWorkspace

T = TypeVar("T")

CLASSES = 10
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SETTLED_S = 3600  # generated files look an hour old: past the hash cache's racy window


# -- the data -----------------------------------------------------------------------------


def generate_tree(root: Path, files: int, seed: int = 0) -> int:
    """``files`` PNG-like files of 300-800 random bytes in 10 class folders; total bytes.

    Files and folders are dated an hour back, as data written long before the run: within
    the racy window nothing is cached or memoised, which is not the case measured here.
    """
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    settled = time.time() - SETTLED_S
    total = 0
    for label in range(CLASSES):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
    for index in range(files):
        path = root / str(index % CLASSES) / f"{index:06d}.png"
        body = PNG_MAGIC + rng.randbytes(rng.randint(300, 800) - len(PNG_MAGIC))
        path.write_bytes(body)
        os.utime(path, (settled, settled))
        total += len(body)
    for folder in [root, *(root / str(label) for label in range(CLASSES))]:
        os.utime(folder, (settled, settled))
    return total


def rewrite(root: Path, count: int, files: int, seed: int = 1) -> None:
    """New bytes for ``count`` evenly spread files, with an mtime the cache has not seen."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    settled = time.time() - SETTLED_S / 2
    for index in range(0, files, max(1, files // count))[:count]:
        path = root / str(index % CLASSES) / f"{index:06d}.png"
        path.write_bytes(PNG_MAGIC + rng.randbytes(rng.randint(300, 800) - len(PNG_MAGIC)))
        os.utime(path, (settled, settled))


def generate_big(path: Path, size: int, seed: int = 2) -> None:
    """One file of ``size`` random bytes, written in 4 MiB chunks (never held whole)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for start in range(0, size, 4 * MIB):
            out.write(rng.randbytes(min(4 * MIB, size - start)))
    settled = time.time() - SETTLED_S
    os.utime(path, (settled, settled))


def walk_floor(root: Path) -> int:
    """The least any digest can cost: one scandir + stat walk; returns the file count."""
    count, pending = 0, [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


def digest(root: Path, cache_file: Path) -> str:
    """What the Pulumi program pays per asset on every preview: open cache, scan, digest."""
    with SqliteHashCache.open(cache_file) as cache:
        return str(scan(root, cache).digest)


# -- registration, as the DataAsset provider does it ----------------------------------------


@dataclass(frozen=True)
class Job:
    """One registration: a folder, the hash cache, and the workspace to register it in."""

    root: Path
    cache_file: Path
    catalog: Path
    container: str
    endpoint: BlobEndpoint
    name: str
    choice: Choice = "measure"
    """Copy or send known content: measured per endpoint, as the provider does."""


def register(job: Job) -> dict[str, Any]:
    """Mirror of ``providers.folder_asset.register``: scan, upload what is lacking, register."""
    started = time.perf_counter()
    ws = LocalWorkspace(job.catalog, job.container, lambda: job.endpoint)
    with SqliteHashCache.open(job.cache_file) as cache:
        manifest = scan(job.root, cache)
    root, name = job.root, job.name
    prefix = upload_prefix(manifest.digest, name)
    report = upload(
        root,
        manifest,
        ws.endpoint,
        ws.container,
        prefix,
        ws.stored_content(),
        progress=False,
        choice=job.choice,
    )
    data, _ = ws.register_data(name, type_="uri_folder", uri=datastore_uri(prefix),
                               manifest=manifest)  # fmt: skip
    return {
        "seconds": time.perf_counter() - started,
        "version": data.version,
        "digest": manifest.digest,
        "prefix": prefix,
        "bytes": manifest.bytes,
        "transfer": str(report),
        "report": report.to_dict(),
    }


def register_in_child(job: Job) -> dict[str, Any]:
    """``register`` in a fresh process, with that process's peak RSS."""
    result = register(job)
    return {**result, "peak_rss_mib": peak_rss_mib()}


def in_child(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` in a spawned process, as each ``pulumi up`` runs its provider in
    one: every timed run starts from the same clean interpreter (not the heap and pools
    of the runs before it in this one), and a registration's peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(call, *args).result()


def new_workspace(catalog: Path, container: str, endpoint: BlobEndpoint) -> None:
    LocalWorkspace(catalog, container, lambda: endpoint).create("bench", "benchmark", {})


# -- anchors -----------------------------------------------------------------------------


def raw_upload(root: Path, endpoint: BlobEndpoint, container: str, threads: int) -> float:
    """The emulator's ceiling: the same files, read and PUT by a plain pooled thread loop."""
    paths = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    service = endpoint.client(pool=threads)
    client = service.create_container(container)

    def put(relpath: str) -> None:
        client.upload_blob(f"raw/{relpath}", (root / relpath).read_bytes(), overwrite=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put, paths))
    return time.perf_counter() - start


def list_time(endpoint: BlobEndpoint, container: str, prefix: str) -> float:
    """Seconds of one metadata listing of ``prefix``, as upload() does to verify a version."""
    client = endpoint.client().get_container_client(container)
    seconds, _ = timed(
        lambda: sum(
            1 for _ in client.list_blobs(name_starts_with=f"{prefix}/", include=["metadata"])
        )
    )
    return seconds


def sha256_of(path: Path) -> str:
    with path.open("rb") as raw:
        return hashlib.file_digest(raw, "sha256").hexdigest()


def blob_sha256(endpoint: BlobEndpoint, container: str, name: str) -> str:
    """The sha256 of the bytes the blob holds, downloaded: the proof, not the metadata."""
    digest = hashlib.sha256()
    stream = endpoint.client().get_blob_client(container, name).download_blob()
    for chunk in stream.chunks():
        digest.update(chunk)
    return digest.hexdigest()
