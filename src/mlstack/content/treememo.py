"""The tree memo: what one scan of a folder found, so the next scan costs its stat calls.

A warm hash cache still costs a SQLite look-up, an object and a digest per file. The memo
keeps the whole result of the last scan (entries, digest) beside what ``stat`` said about
every folder and file, and the next scan only re-checks those stats:

- a folder whose (inode, mtime) is unchanged still holds the same names: POSIX updates a
  directory's mtime whenever an entry is created, removed or renamed in it, so no file can
  appear, vanish or be swapped for a link or a folder behind an unchanged folder stat;
- a file whose (inode, mtime, size) is unchanged still holds the same bytes — the hash
  cache's own rule, with the same trade-off (see :mod:`mlstack.content.hashcache`);
- the root's ignore files are part of the key, so a rule change means a full scan, and a
  symlinked file is followed again (its target may have moved).

If a folder changed, the scan walks the tree again; if only files changed, just those are
hashed (through the hash cache) and the memo is patched. A memo is stored only when every
recorded mtime is older than the racy window at the moment the scan started, so a change in
the same clock tick as the recording cannot hide behind an equal mtime.
"""

from __future__ import annotations

import marshal
import os
from array import array
from dataclasses import dataclass
from pathlib import Path

from mlstack.content.hashcache import RACY_WINDOW_NS, StatKey
from mlstack.content.ignore import AML_IGNORE, GIT_IGNORE

FORMAT = 2
"""Bumped whenever the layout below changes; an unknown format is simply a miss."""

RulesKey = tuple[tuple[int, int, int] | None, ...]
DirStat = tuple[str, int, int]
"""A folder relative to the root ('' for the root itself), its inode and mtime_ns."""


def rules_key(real_root: str) -> RulesKey:
    """(inode, mtime_ns, size) of each ignore file at the root, None where there is none."""
    key: list[tuple[int, int, int] | None] = []
    for name in (AML_IGNORE, GIT_IGNORE):
        try:
            st = (Path(real_root) / name).stat()
        except OSError:
            key.append(None)
        else:
            key.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(key)


def dir_path(real_root: str, reldir: str) -> str:
    return f"{real_root}/{reldir}" if reldir else real_root


@dataclass(frozen=True)
class TreeMemo:
    """One scan's result and the stats that vouch for it, in marshal-friendly types.

    Inodes and mtimes are packed int64 arrays: they load as two buffers instead of 140,000
    int objects, which is a third of what loading a 70,000-file memo costs.
    """

    rules: RulesKey
    dirs: list[DirStat]
    entries: list[tuple[str, int, str]]
    """(relpath, size, sha256) sorted by relpath: a manifest's entries."""
    inodes: array[int]
    mtimes: array[int]
    """inode and mtime_ns of each entry's file, in the same order."""
    links: dict[str, str]
    """relpath → the real path of the file a symlink stands for."""
    digest: str

    def dumps(self) -> bytes:
        packed = (self.inodes.tobytes(), self.mtimes.tobytes())
        return marshal.dumps((FORMAT, self.rules, self.dirs, self.entries, *packed,
                              self.links, self.digest))  # fmt: skip

    @classmethod
    def loads(cls, raw: bytes | None) -> TreeMemo | None:
        """The memo in ``raw``, or None for nothing, another format or unreadable bytes."""
        if raw is None:
            return None
        try:
            fmt, rules, dirs, entries, inodes, mtimes, links, digest = marshal.loads(raw)  # noqa: S302 (our own cache)
            if fmt != FORMAT:
                return None
            memo = cls(rules, dirs, entries, _int64(inodes), _int64(mtimes), links, digest)
        except (EOFError, ValueError, TypeError):
            return None
        return memo if len(memo.inodes) == len(memo.mtimes) == len(entries) else None

    @classmethod
    def record(
        cls,
        real_root: str,
        *,
        rules: RulesKey,
        dirs: list[DirStat],
        keys: dict[str, StatKey],
        entries: list[tuple[str, int, str]],
        digest: str,
        started_ns: int,
    ) -> TreeMemo | None:
        """The memo of a scan that started at ``started_ns``, or None if it would be racy.

        ``keys`` maps each entry's relpath to the stat key its hash was taken under.
        """
        settled_before = started_ns - RACY_WINDOW_NS
        if any(mtime >= settled_before for _, _, mtime in dirs):
            return None
        inodes, mtimes = array("q"), array("q")
        links: dict[str, str] = {}
        prefix = f"{real_root}/"
        for relpath, _, _ in entries:
            key = keys[relpath]
            if key.mtime_ns >= settled_before:
                return None
            inodes.append(key.inode)
            mtimes.append(key.mtime_ns)
            if key.path != prefix + relpath:
                links[relpath] = key.path
        return cls(rules, dirs, entries, inodes, mtimes, links, digest)

    def changed(self, real_root: str) -> list[tuple[int, StatKey]] | None:
        """Entries whose file stat changed (index, new key), or None if a folder changed.

        None also when anything cannot be stat'ed: the full scan then says what is wrong.
        """
        stat = os.stat
        try:
            for reldir, inode, mtime_ns in self.dirs:
                st = stat(dir_path(real_root, reldir))
                if st.st_mtime_ns != mtime_ns or st.st_ino != inode:
                    return None
            for relpath, target in self.links.items():
                if os.path.realpath(f"{real_root}/{relpath}") != target:
                    return None
            return self._changed_files(real_root)
        except OSError:
            return None

    def _changed_files(self, real_root: str) -> list[tuple[int, StatKey]]:
        stat, links, prefix = os.stat, self.links, f"{real_root}/"
        found: list[tuple[int, StatKey]] = []
        # The loop every no-op scan runs once per file: kept to one stat and three compares.
        for index, ((relpath, size, _), inode, mtime_ns) in enumerate(
            zip(self.entries, self.inodes, self.mtimes, strict=True)
        ):
            path = links.get(relpath) if links else None
            st = stat(path or prefix + relpath)
            if st.st_mtime_ns != mtime_ns or st.st_size != size or st.st_ino != inode:
                found.append((index, StatKey.of(path or prefix + relpath, st)))
        return found


def _int64(raw: bytes) -> array[int]:
    values = array("q")
    values.frombytes(raw)
    return values
