"""Blob download: bring a stored version back into a local folder, verified file by file.

Resumable (files already present with the right size and sha256 are kept) and atomic per
file: bytes go to a hidden temporary file beside the target, are hashed on the way, and are
renamed into place only when they match the manifest, so a reader never sees a partial or
tampered file under its real name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from azure.storage.blob import ContainerClient

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from mlstack.content.transport import (
    Meter,
    blob_name,
    check_paths,
    clean_prefix,
    describe,
    run_parallel,
    transfer_client,
)
from mlstack.errors import WorkspaceError

__all__ = ["download"]


def _present(path: Path, entry: FileEntry) -> bool:
    """True when ``path`` already holds exactly the entry's bytes."""
    try:
        if not path.is_file() or path.stat().st_size != entry.size:
            return False
        with path.open("rb") as raw:
            return hashlib.file_digest(raw, "sha256").hexdigest() == entry.sha256
    except OSError:
        return False


def _fetch_once(
    container: ContainerClient, prefix: str, entry: FileEntry, target: Path, meter: Meter
) -> None:
    name = blob_name(prefix, entry)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    digest, count = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in container.get_blob_client(name).download_blob(max_concurrency=1).chunks():
                digest.update(chunk)
                out.write(chunk)
                count += len(chunk)
                meter.advance(len(chunk))
        if count != entry.size or digest.hexdigest() != entry.sha256:
            raise WorkspaceError(
                f"blob '{name}' in container '{container.container_name}' does not hold the "
                f"content its manifest lists for '{entry.path}' (got {count} bytes, sha256 "
                f"{digest.hexdigest()}; expected {entry.size}, {entry.sha256}): the stored "
                "version was altered; upload it again as a new version"
            )
        Path(temp).replace(target)
    except BaseException:
        meter.advance(-count)  # a retry counts these bytes again
        Path(temp).unlink(missing_ok=True)
        raise


def download(  # noqa: PLR0917 - positional order is the one the issue specifies
    endpoint: BlobEndpoint,
    container: str,
    prefix: str,
    manifest: Manifest,
    dest: Path,
    threads: int = 8,
    progress: bool = True,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> None:
    """Make ``dest`` hold every file of ``manifest`` from ``<prefix>/``, verified by sha256.

    Files in ``dest`` that the manifest does not list are left alone.
    """
    prefix = clean_prefix(prefix)
    check_paths(manifest)
    todo = [e for e in manifest.entries if not _present(dest / e.path, e)]
    if not todo:
        return
    with transfer_client(endpoint, threads) as service:
        client = service.get_container_client(container)

        def fetch(entry: FileEntry, meter: Meter) -> None:
            target = dest / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with_retry(
                lambda: _fetch_once(client, prefix, entry, target, meter),
                f"downloading {describe(prefix, entry)}",
                retry,
            )
            meter.file_done()

        with (
            Meter(
                f"download {prefix.rpartition('/')[2]}",
                len(todo),
                sum(e.size for e in todo),
                progress,
            ) as meter,
            ThreadPoolExecutor(max_workers=threads) as pool,
        ):
            run_parallel(pool, [partial(fetch, entry, meter) for entry in todo])
