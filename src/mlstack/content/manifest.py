"""Manifests: what a folder holds, as (relpath, size, sha256), and a digest over it.

The digest hashes one canonical JSON line per file, so names and contents can never
run together (azure-ai-ml's own hash feeds names and bytes into one stream, where folder
``a/b`` and file ``ab`` with the same bytes collide). It is prefixed with the algorithm
so a future change of hash is visible rather than silently incompatible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any, NamedTuple

DIGEST_PREFIX = "sha256:"


class FileEntry(NamedTuple):
    """One file: POSIX path relative to the asset root, size in bytes, hex sha256.

    A named tuple rather than a frozen dataclass: as immutable, ordered and hashable, and
    three times cheaper to build, which a no-op scan of 70,000 files notices.
    """

    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FileEntry:
        return cls(str(raw["path"]), int(raw["size"]), str(raw["sha256"]))


@dataclass(frozen=True)
class ChangeSummary:
    """How one manifest differs from an earlier one, by path."""

    added: int
    changed: int
    removed: int

    def __str__(self) -> str:
        if not (self.added or self.changed or self.removed):
            return "no file changes"
        parts = []
        if self.added:
            parts.append(f"+{self.added} file{'s' if self.added != 1 else ''}")
        if self.changed:
            parts.append(f"{self.changed} changed")
        if self.removed:
            parts.append(f"{self.removed} removed")
        return ", ".join(parts)


@dataclass(frozen=True)
class Manifest:
    """The files of an asset, sorted by path; equal content gives an equal digest.

    ``digest`` and ``bytes`` are computed once per object (a preview asks for them several
    times per asset); equality and serialisation depend on ``entries`` alone.
    """

    entries: tuple[FileEntry, ...]

    @classmethod
    def of(cls, entries: Iterable[FileEntry]) -> Manifest:
        # By path alone: paths are unique, and comparing whole entries costs 3x as much.
        ordered = tuple(sorted(entries, key=attrgetter("path")))
        paths = [e.path for e in ordered]
        if len(set(paths)) != len(paths):
            raise ValueError("a manifest cannot list the same path twice")
        return cls(ordered)

    @classmethod
    def trusted(cls, entries: tuple[FileEntry, ...], digest: str) -> Manifest:
        """A manifest rebuilt from a record of our own that kept its entries (already sorted
        by unique path) together with their digest; nothing is sorted or hashed again."""
        manifest = cls(entries)
        manifest.__dict__["digest"] = digest  # seeds the cached_property below
        return manifest

    @cached_property
    def digest(self) -> str:
        """sha256 over one JSON line ``["<path>", <size>, "<sha256>"]`` per file.

        Only the path needs JSON escaping (size is an int, sha256 is hex), so each line is
        built around one ``json.dumps`` — the same bytes, at a third of the cost.
        """
        lines = "".join(f'[{json.dumps(e.path)}, {e.size}, "{e.sha256}"]\n' for e in self.entries)
        return DIGEST_PREFIX + hashlib.sha256(lines.encode()).hexdigest()

    @property
    def files(self) -> int:
        return len(self.entries)

    @cached_property
    def bytes(self) -> int:
        return sum(e.size for e in self.entries)

    def by_path(self) -> dict[str, FileEntry]:
        return {e.path: e for e in self.entries}

    def changes_since(self, earlier: Manifest | None) -> ChangeSummary:
        """What changed relative to ``earlier`` (None: everything is added)."""
        if earlier is None:
            return ChangeSummary(self.files, 0, 0)
        old, new = earlier.by_path(), self.by_path()
        changed = sum(1 for p, e in new.items() if p in old and old[p].sha256 != e.sha256)
        return ChangeSummary(len(new.keys() - old.keys()), changed, len(old.keys() - new.keys()))

    def to_json(self) -> str:
        """Deterministic serialisation (sorted entries, sorted keys, no spaces)."""
        return json.dumps(self.to_record(), sort_keys=True, separators=(",", ":"))

    def to_record(self) -> dict[str, Any]:
        """What :meth:`to_json` serialises, for records that hold a manifest and more."""
        return {"digest": self.digest, "files": [e.to_dict() for e in self.entries]}

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls.from_record(json.loads(text))

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> Manifest:
        """The manifest in a parsed record; keys other than ``digest`` and ``files`` are
        the record's own business."""
        manifest = cls.of(FileEntry.from_dict(item) for item in raw["files"])
        if raw.get("digest") not in (None, manifest.digest):
            raise ValueError("manifest digest does not match its entries")
        return manifest
