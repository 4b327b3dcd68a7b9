"""Folders and version blobs for the transfer tests: written, named, read back."""

from __future__ import annotations

import hashlib
from pathlib import Path

from azure.storage.blob import ContainerClient

from mlstack.content.manifest import FileEntry, Manifest


def write_tree(root: Path, files: dict[str, bytes]) -> Manifest:
    """Write ``files`` under ``root`` and hash them independently of the folder scanner."""
    entries = []
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append(FileEntry(rel, len(data), hashlib.sha256(data).hexdigest()))
    return Manifest.of(entries)


def prefix_of(manifest: Manifest, name: str = "iris") -> str:
    return f"LocalUpload/{manifest.digest.removeprefix('sha256:')}/{name}"


def known_from(manifest: Manifest, prefix: str) -> dict[str, str]:
    return {e.sha256: f"{prefix}/{e.path}" for e in manifest.entries}


def blobs(container: ContainerClient, prefix: str) -> dict[str, bytes]:
    return {
        b.name.removeprefix(prefix + "/"): container.download_blob(b.name).readall()
        for b in container.list_blobs(name_starts_with=prefix + "/")
    }
