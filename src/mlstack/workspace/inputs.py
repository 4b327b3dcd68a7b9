"""Training inputs: a data asset reference made into a verified local folder.

``materialise(home, stack, "digits-train@latest")`` resolves the reference through the
stack's workspace and downloads the version once into a content-addressed cache,
``<home>/cache/data/<hex digest>/`` — a plain copy of the asset that a data loader can
read as it is. Our bookkeeping lives beside it, never inside: ``.<hex>.complete`` (the
manifest plus each file's size and mtime, written last) and ``.<hex>.lock``.

A later call costs one walk of stat calls: the folder must hold exactly the manifest's
paths with the sizes and mtimes recorded when they were verified. Any file that differs
is re-hashed and, if its content changed, fetched again (verified by sha256 on the way
in); files the manifest does not list are removed. A tampered cache therefore heals
itself rather than failing the run. Edits that keep both size and mtime are caught only
with ``rehash=True``, which re-hashes every file, as the project's stat-keyed hash cache
trusts stats the same way.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlstack.content.download import download
from mlstack.content.manifest import Manifest
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.workspace.asset import DATASTORE, AssetRef, AssetVersion, DataVersion
from mlstack.workspace.local import LocalWorkspace
from mlstack.workspace.protocol import Workspace

__all__ = ["ResolvedInput", "cache_folder", "fetch_version", "materialise", "resolve"]

_URI_HEAD = f"azureml://datastores/{DATASTORE}/paths/"
Stats = dict[str, tuple[int, int]]  # relpath -> (size, mtime_ns)


@dataclass(frozen=True)
class ResolvedInput:
    """A data version present and verified on local disk."""

    name: str
    version: str
    digest: str
    path: Path
    """The local folder holding exactly the version's files."""
    files: int

    def to_dict(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "files": self.files,
            "name": self.name,
            "path": str(self.path),
            "version": self.version,
        }


def cache_folder(home: Path) -> Path:
    """The default content-addressed cache of downloaded data versions."""
    return home / "cache" / "data"


def _available(workspace: LocalWorkspace, name: str) -> str:
    versions = workspace.list_data(name)
    if not versions:
        names = sorted({v.name for v in workspace.list_data()})
        return f"no data asset is named {name!r}; registered names: {', '.join(names) or 'none'}"
    listed = ", ".join(f"{v.version}{' (archived)' if v.archived else ''}" for v in versions)
    return f"versions of {name!r}: {listed}"


def resolve(workspace: LocalWorkspace, ref: str) -> DataVersion:
    """The version ``ref`` names; archived versions are refused, ``@latest`` skips them."""
    asset = AssetRef.parse(ref)
    try:
        data = workspace.get_data(asset.name, asset.version)
    except NotFoundError as error:
        raise NotFoundError(f"{error}; {_available(workspace, asset.name)}") from None
    if data.archived:
        raise WorkspaceError(
            f"data asset {data.name}:{data.version} is archived, so it is not used for new "
            "training runs: restore it (declare that content again and run `pulumi up`, "
            f"or on Azure `az ml data restore --name {data.name} --version {data.version}`) "
            f"or name another version; {_available(workspace, data.name)}"
        )
    return data


def _noun(version: AssetVersion) -> str:
    return "data asset" if version.kind == "data" else version.kind


def _datastore_path(data: AssetVersion) -> str:
    if not data.uri.startswith(_URI_HEAD):
        raise WorkspaceError(
            f"{_noun(data)} {data.name}:{data.version} lives at {data.uri}, outside the "
            f"workspace's default datastore {DATASTORE!r}: only that datastore can be read"
        )
    return data.uri.removeprefix(_URI_HEAD).strip("/")


def _scan(folder: Path) -> Stats:
    """Every file under ``folder``: relpath → (size, mtime_ns), by stat calls only."""
    found: Stats = {}
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    stat = entry.stat(follow_symlinks=False)
                    rel = Path(entry.path).relative_to(folder).as_posix()
                    found[rel] = (stat.st_size, stat.st_mtime_ns)
    return found


def _read_marker(marker: Path, manifest: Manifest) -> Stats:
    """The stats recorded when this exact manifest was verified; empty if none or another."""
    try:
        raw = json.loads(marker.read_text())
        if Manifest.from_json(json.dumps(raw["manifest"])) != manifest:
            return {}
        return {path: (int(size), int(mtime)) for path, (size, mtime) in raw["stats"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_marker(marker: Path, manifest: Manifest, stats: Stats) -> None:
    """Write atomically, so a crash leaves the old marker or the new one, never half."""
    body = {
        "manifest": json.loads(manifest.to_json()),
        "stats": {path: list(stats[path]) for path in sorted(stats)},
    }
    temp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(body, sort_keys=True, separators=(",", ":")))
    temp.replace(marker)


def _prune(folder: Path, present: Stats, wanted: Manifest) -> None:
    """Remove files the manifest does not list (strays, interrupted ``.part`` files) and
    folders left empty, which a class-per-folder loader would take as an extra class."""
    keep = {e.path for e in wanted.entries}
    for rel in present.keys() - keep:
        (folder / rel).unlink(missing_ok=True)
    for parent, _, _ in os.walk(folder, topdown=False):
        path = Path(parent)
        if path != folder and not any(path.iterdir()):
            path.rmdir()


@contextmanager
def _locked(lock: Path) -> Iterator[None]:
    """One process at a time repairs a cache folder; others wait, then find it complete."""
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_version(
    workspace: Workspace, data: AssetVersion, manifest: Manifest, cache: Path, *,
    progress: bool, rehash: bool = False,
) -> Path:  # fmt: skip
    """``<cache>/<digest hex>/``: the version's files, each verified by sha256 on the way in;
    a folder whose files still have the stats recorded when it was verified is trusted."""
    hexdigest = data.digest.split(":", 1)[-1]
    folder, marker = cache / hexdigest, cache / f".{hexdigest}.complete"
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / f".{hexdigest}.lock"):
        folder.mkdir(exist_ok=True)
        recorded = {} if rehash else _read_marker(marker, manifest)
        present = _scan(folder)
        if recorded and present == recorded:
            return folder
        marker.unlink(missing_ok=True)
        _prune(folder, present, manifest)
        suspects = [
            e for e in manifest.entries
            if e.path not in present or present[e.path] != recorded.get(e.path)
        ]  # fmt: skip
        # download keeps files that already hash right and fetches the rest, verified
        download(
            workspace.endpoint, workspace.container, _datastore_path(data),
            Manifest.of(suspects), folder, progress=progress,
        )  # fmt: skip
        present = _scan(folder)
        if present.keys() != {e.path for e in manifest.entries}:
            raise WorkspaceError(
                f"{folder} changed while {_noun(data)} {data.name}:{data.version} was being "
                "fetched into it: stop other writers to the cache and run again"
            )
        _write_marker(marker, manifest, present)
    return folder


def materialise(
    home: Path,
    stack: str,
    ref: str,
    cache: Path | None = None,
    progress: bool = True,
    *,
    rehash: bool = False,
) -> ResolvedInput:
    """Resolve ``ref`` (``name``, ``name:N``, ``name@latest``) in ``stack``'s workspace and
    return a verified local copy, downloading only what the cache lacks.

    ``cache`` defaults to :func:`cache_folder` of ``home``; ``rehash`` re-hashes every
    cached file instead of trusting recorded stats.
    """
    workspace = LocalWorkspace.open(home, stack)
    data = resolve(workspace, ref)
    manifest = workspace.data_manifest(data.name, data.version)
    if manifest.digest != data.digest:
        raise WorkspaceError(
            f"data asset {data.name}:{data.version} is registered with digest {data.digest} "
            f"but its stored manifest hashes to {manifest.digest}: the workspace catalog is "
            "damaged; register the content again as a new version"
        )
    folder = fetch_version(
        workspace, data, manifest, cache or cache_folder(home), progress=progress, rehash=rehash
    )
    return ResolvedInput(data.name, data.version, data.digest, folder, manifest.files)
