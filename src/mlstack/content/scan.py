"""Scanning: from an asset folder on disk to its :class:`Manifest`, as cheaply as possible.

A folder scanned before and unchanged since costs one ``stat`` per file and folder: the
tree memo (:mod:`mlstack.content.treememo`) vouches for the rest, and files whose stat
changed are the only ones looked up or hashed. Otherwise: one walk (``os.scandir``, one
``stat`` per file), the root ignore rules applied as `az ml` applies them
(:mod:`mlstack.content.ignore`), hashes served from the stat-keyed cache
(:mod:`mlstack.content.hashcache`), and only misses read: in 1 MiB chunks into a reused
buffer, small files sequentially (threads make many small reads slower) and large files
in a small thread pool at the same time (hashlib releases the GIL while hashing).

An asset must be plain files, so anything else is refused with an error naming it,
never silently skipped or guessed at:

- a symlink to a regular file inside the folder is followed: it stands for the
  target's bytes, under the link's own path (as `az ml` uploads it);
- a symlink that leads outside the folder, to a folder, or nowhere is an error
  (outside content would change the asset behind its back; folder links can loop);
- FIFOs, sockets and devices are errors, as are files that cannot be read;
- a folder with no files left after ignores is an error.

Every such problem in the folder is reported at once, as one :class:`ConfigError`.
"""

from __future__ import annotations

import gc
import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from mlstack.content.hashcache import HashCache, StatKey
from mlstack.content.ignore import IgnoreRules
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.treememo import DirStat, RulesKey, TreeMemo, rules_key
from mlstack.errors import ConfigError, Problem

CHUNK_SIZE = 1 << 20
"""Bytes read per call: large enough to amortise syscalls, small enough to stream."""
LARGE_FILE = 8 << 20
"""Files at least this big are hashed in the pool, beside the sequential small ones."""
WORKERS = 4
FLUSH_EVERY = 990
"""Fresh hashes are stored in batches of this many, so an interrupted scan keeps them."""

PLAIN_FILES = "a data asset must be plain files"


@dataclass(frozen=True)
class ScanProgress:
    """How far a scan is; files served from the cache count as done."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


ProgressCallback = Callable[[ScanProgress], None]
"""Called from the scanning thread after each file (or batch of cached files)."""


@dataclass(frozen=True)
class _Found:
    relpath: str
    key: StatKey


def scan(
    root: Path,
    cache: HashCache,
    *,
    progress: ProgressCallback | None = None,
    workers: int = WORKERS,
    large_file: int = LARGE_FILE,
) -> Manifest:
    """The manifest of the folder ``root``; every problem found is raised as a ConfigError."""
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise ConfigError([Problem(str(root), "path", f"{what}; point path at the data folder")])
    started_ns = time.time_ns()
    real_root = os.path.realpath(root)
    run = _Scan(root, real_root, cache, progress, rules_key(real_root), started_ns)
    with _collector_paused():
        memo = TreeMemo.loads(cache.tree(real_root))
        if memo is not None and memo.rules == run.rules:
            changed = memo.changed(real_root)
            if changed is not None:
                return run.patched(memo, changed)
    return run.full(workers, large_file)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a memo is loaded and checked: that allocates a
    tuple or two per file, all of which outlive it (they become the manifest), so the
    collector's passes free nothing (a no-op digest of 70,000 files, best of 7: 0.237 s
    with them, 0.216 s with this pause). Left as found if something else paused it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True)
class _Scan:
    """One call of :func:`scan`: where, with which cache, and when it started."""

    root: Path
    real_root: str
    cache: HashCache
    progress: ProgressCallback | None
    rules: RulesKey
    started_ns: int

    def full(self, workers: int, large_file: int) -> Manifest:
        """Walk the tree, hash what the cache does not vouch for, and memo the result."""
        rules = IgnoreRules.of(self.root)
        found, dirs = _walk(self.root, rules)
        if not found:
            ignored = f" after the rules in {rules.source.name}" if rules.source else ""
            reason = f"folder has no files{ignored}; add data or fix the path"
            raise ConfigError([Problem(str(self.root), "path", reason)])
        hashes = _Hashing(self.root, self.cache, found, self.progress).run(workers, large_file)
        manifest = Manifest.of(FileEntry(f.relpath, f.key.size, hashes[f.relpath]) for f in found)
        self._remember(dirs, {f.relpath: f.key for f in found}, manifest)
        return manifest

    def patched(self, memo: TreeMemo, changed: list[tuple[int, StatKey]]) -> Manifest:
        """The memo's manifest, with the files whose stat changed (if any) hashed again."""
        if not changed:
            if self.progress is not None:
                files, nbytes = len(memo.entries), sum(size for _, size, _ in memo.entries)
                self.progress(ScanProgress(files, files, nbytes, nbytes))
            return Manifest.trusted(tuple(map(FileEntry._make, memo.entries)), memo.digest)
        found = [_Found(memo.entries[index][0], key) for index, key in changed]
        hashes = _Hashing(self.root, self.cache, found, self.progress).run(WORKERS, LARGE_FILE)
        entries = list(memo.entries)
        for index, key in changed:
            relpath = entries[index][0]
            entries[index] = (relpath, key.size, hashes[relpath])
        manifest = Manifest(tuple(map(FileEntry._make, entries)))
        prefix = f"{self.real_root}/"
        keys = {
            relpath: StatKey(memo.links.get(relpath) or prefix + relpath, inode, mtime_ns, size)
            for (relpath, size, _), inode, mtime_ns in zip(
                memo.entries, memo.inodes, memo.mtimes, strict=True
            )
        }
        keys.update((item.relpath, item.key) for item in found)
        self._remember(memo.dirs, keys, manifest)
        return manifest

    def _remember(self, dirs: list[DirStat], keys: dict[str, StatKey], manifest: Manifest) -> None:
        """Store this scan's tree memo, unless some mtime is too recent to vouch for it."""
        memo = TreeMemo.record(
            self.real_root, rules=self.rules, dirs=dirs, keys=keys,
            entries=[(e.path, e.size, e.sha256) for e in manifest.entries],
            digest=manifest.digest, started_ns=self.started_ns,
        )  # fmt: skip
        if memo is not None:
            self.cache.store_tree(self.real_root, memo.dumps())


def hash_file(path: str) -> tuple[str, int]:
    """The hex sha256 of the file at ``path`` and how many bytes were read, streamed."""
    buffer = _buffer()
    digest = hashlib.sha256()
    read = 0
    with open(path, "rb", buffering=0) as fh:  # noqa: PTH123 (raw FileIO for readinto)
        while count := fh.readinto(buffer):
            digest.update(buffer[:count])
            read += count
    return digest.hexdigest(), read


_local = threading.local()


def _buffer() -> memoryview:
    """One reusable chunk buffer per thread: no allocation per file."""
    view: memoryview | None = getattr(_local, "buffer", None)
    if view is None:
        view = _local.buffer = memoryview(bytearray(CHUNK_SIZE))
    return view


def _walk(root: Path, rules: IgnoreRules) -> tuple[list[_Found], list[DirStat]]:
    """Every kept file under ``root`` and the stat of every folder walked, with the
    problems of all the others raised together."""
    real_root = str(rules.root)
    found: list[_Found] = []
    dirs: list[DirStat] = []
    problems: list[Problem] = []

    def problem(relpath: str, reason: str) -> None:
        shown = os.fsencode(relpath).decode("utf-8", "backslashreplace")
        problems.append(Problem(str(root / shown), "path", reason))

    pending = [(real_root, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            # Stat'ed before it is listed: a change in between shows as a newer mtime.
            st = Path(directory).stat()
            dirs.append((prefix.rstrip("/"), st.st_ino, st.st_mtime_ns))
            with os.scandir(directory) as entries:
                for entry in entries:
                    relpath = prefix + entry.name
                    if entry.is_dir(follow_symlinks=False):
                        # Folders are never matched themselves: like `az ml`, only files are.
                        pending.append((entry.path, relpath + "/"))
                    elif not rules.excludes(relpath):
                        try:
                            relpath.encode("utf-8")
                        except UnicodeEncodeError:
                            problem(relpath, "name is not valid UTF-8; rename the file")
                            continue
                        outcome = _classify(entry, real_root)
                        if isinstance(outcome, str):
                            problem(relpath, outcome)
                        else:
                            found.append(_Found(relpath, outcome))
        except OSError as exc:
            reason = f"folder cannot be listed ({exc.strerror}); make it readable"
            problem(prefix.rstrip("/") or ".", reason)
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.file))
    return found, dirs


def _classify(entry: os.DirEntry[str], real_root: str) -> StatKey | str:
    """The stat key of a usable file, or the reason it cannot be part of an asset."""
    if entry.is_symlink():
        return _follow(entry.path, real_root)
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return f"cannot be read ({exc.strerror}); {PLAIN_FILES}: replace or remove it"
    return StatKey.of(entry.path, st) if stat.S_ISREG(st.st_mode) else _special(st)


def _follow(link: str, real_root: str) -> StatKey | str:
    """A symlink stands for its target only if that is a regular file inside the folder."""
    target = os.path.realpath(link)
    if os.path.commonpath([real_root, target]) != real_root:
        return (
            f"is a symlink to {target}, outside the folder; {PLAIN_FILES}: "
            "copy the file in, or ignore the link in .amlignore"
        )
    try:
        st = Path(target).stat()
    except FileNotFoundError:
        return f"is a dangling symlink (its target is missing); {PLAIN_FILES}: remove it"
    except OSError as exc:
        return f"is a symlink that cannot be followed ({exc.strerror}); {PLAIN_FILES}"
    if stat.S_ISDIR(st.st_mode):
        return f"is a symlink to a folder; {PLAIN_FILES}: copy the files in or remove the link"
    return StatKey.of(target, st) if stat.S_ISREG(st.st_mode) else _special(st)


def _special(st: os.stat_result) -> str:
    if stat.S_ISFIFO(st.st_mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISSOCK(st.st_mode):
        kind = "a socket"
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        kind = "a device"
    else:
        kind = "not a regular file"
    return f"is {kind}; {PLAIN_FILES}: remove it or ignore it in .amlignore"


class _Hashing:
    """The hashing half of one scan: cache lookups, reads of the misses, progress, errors."""

    def __init__(
        self,
        root: Path,
        cache: HashCache,
        found: list[_Found],
        progress: ProgressCallback | None,
    ) -> None:
        self.root = root
        self.cache = cache
        self.found = found
        self.progress = progress
        self.hashes: dict[str, str] = {}
        self.fresh: dict[StatKey, str] = {}
        self.problems: list[Problem] = []
        self.files_done = 0
        self.bytes_done = 0
        self.bytes_total = sum(f.key.size for f in found)

    def run(self, workers: int, large_file: int) -> dict[str, str]:
        """relpath → sha256 of every file found; a ConfigError lists what could not be read."""
        cached = self.cache.lookup([f.key for f in self.found])
        misses = []
        for item in self.found:
            sha256 = cached.get(item.key)
            if sha256 is None:
                misses.append(item)
            else:
                self._done(item, sha256, report=False)
        if cached:
            self._report()
        large = [f for f in misses if f.key.size >= large_file]
        small = sorted((f for f in misses if f.key.size < large_file), key=lambda f: f.relpath)
        try:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                try:
                    jobs = {pool.submit(hash_file, f.key.path): f for f in large}
                    for item in small:
                        self._finish(item, partial(hash_file, item.key.path))
                    for job in as_completed(jobs):
                        self._finish(jobs[job], job.result)
                finally:
                    pool.shutdown(cancel_futures=True)
        finally:
            self._flush()
        if self.problems:
            raise ConfigError(sorted(self.problems, key=lambda p: p.file))
        return self.hashes

    def _finish(self, item: _Found, compute: Callable[[], tuple[str, int]]) -> None:
        """Record one file's hash, or why it could not be read."""
        try:
            sha256, read = compute()
        except OSError as exc:
            reason = f"cannot be read ({exc.strerror or exc}); make it a readable file or remove it"
            self.problems.append(Problem(str(self.root / item.relpath), "path", reason))
            return
        if read != item.key.size:
            reason = "changed while it was being read; run again once it is stable"
            self.problems.append(Problem(str(self.root / item.relpath), "path", reason))
            return
        self.fresh[item.key] = sha256
        if len(self.fresh) >= FLUSH_EVERY:
            self._flush()
        self._done(item, sha256, report=True)

    def _done(self, item: _Found, sha256: str, *, report: bool) -> None:
        self.hashes[item.relpath] = sha256
        self.files_done += 1
        self.bytes_done += item.key.size
        if report:
            self._report()

    def _report(self) -> None:
        if self.progress is not None:
            total = len(self.found)
            self.progress(ScanProgress(self.files_done, total, self.bytes_done, self.bytes_total))

    def _flush(self) -> None:
        if self.fresh:
            self.cache.store(self.fresh)
            self.fresh = {}
