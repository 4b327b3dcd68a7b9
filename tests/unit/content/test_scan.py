from __future__ import annotations

import gc
import hashlib
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlstack.content import scan as scan_module
from mlstack.content.hashcache import NoCache, SqliteHashCache, StatKey
from mlstack.content.scan import CHUNK_SIZE, ScanProgress, hash_file, scan
from mlstack.content.treememo import TreeMemo
from mlstack.errors import ConfigError

with warnings.catch_warnings():
    # azure-ai-ml's import-time marshmallow deprecations (see mlstack.content.ignore)
    warnings.simplefilter("ignore", DeprecationWarning)
    from azure.ai.ml._utils._asset_utils import get_ignore_file, get_upload_files_from_folder

PAST_NS = time.time_ns() - 3600 * 10**9


def write(root: Path, relpath: str, data: bytes | str) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def settle(root: Path) -> None:
    """Move every mtime out of the cache's racy window, as for files written long ago."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, ns=(PAST_NS, PAST_NS))


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[SqliteHashCache]:
    with SqliteHashCache(tmp_path / "home" / "hashes.db") as opened:
        yield opened


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path the scanner actually reads."""
    calls: list[str] = []

    def counting(path: str) -> tuple[str, int]:
        calls.append(path)
        return hash_file(path)

    monkeypatch.setattr(scan_module, "hash_file", counting)
    return calls


def problems_of(root: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        scan(root, NoCache())
    return [(p.file, p.reason) for p in caught.value.problems]


# --- what the manifest says -------------------------------------------------------------


def test_manifest_lists_posix_relpaths_sizes_and_sha256(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, "top.csv", "a,b\n")
    write(root, "d/e/deep.bin", b"\x00" * 5)
    manifest = scan(root, NoCache())
    assert [(e.path, e.size) for e in manifest.entries] == [("d/e/deep.bin", 5), ("top.csv", 4)]
    assert manifest.by_path()["top.csv"].sha256 == hashlib.sha256(b"a,b\n").hexdigest()


def test_hash_file_streams_across_chunks(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_SIZE * 2 + 17)
    path = write(tmp_path, "big", data)
    assert hash_file(str(path)) == (hashlib.sha256(data).hexdigest(), len(data))


def test_one_changed_byte_changes_the_digest(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, "x.bin", b"0123456789")
    before = scan(root, NoCache()).digest
    write(root, "x.bin", b"0123456780")
    assert scan(root, NoCache()).digest != before


def test_renaming_a_file_changes_the_digest(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, "x.bin", b"same")
    before = scan(root, NoCache()).digest
    (root / "x.bin").rename(root / "y.bin")
    assert scan(root, NoCache()).digest != before


def test_touching_a_file_does_not_change_the_digest(tmp_path: Path, cache: SqliteHashCache) -> None:
    root = tmp_path / "asset"
    write(root, "x.bin", b"same")
    settle(root)
    before = scan(root, cache).digest
    os.utime(root / "x.bin", ns=(PAST_NS + 10**9, PAST_NS + 10**9))
    assert scan(root, cache).digest == before
    assert scan(root, NoCache()).digest == before


def test_folder_and_file_names_cannot_run_together(tmp_path: Path) -> None:
    # azure-ai-ml's own hash collides on these; our manifest digest must not.
    write(tmp_path / "one", "a/b", "x")
    write(tmp_path / "two", "ab", "x")
    assert scan(tmp_path / "one", NoCache()).digest != scan(tmp_path / "two", NoCache()).digest


def test_large_files_hashed_in_the_pool_give_the_same_manifest(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    for i in range(3):
        write(root, f"big{i}.bin", os.urandom(CHUNK_SIZE + i))
    write(root, "small.txt", "tiny")
    pooled = scan(root, NoCache(), large_file=CHUNK_SIZE, workers=2)
    sequential = scan(root, NoCache(), large_file=10**12)
    assert pooled == sequential
    assert pooled.files == 4


# --- the cache ------------------------------------------------------------------------


def test_a_second_scan_reads_nothing(
    tmp_path: Path, cache: SqliteHashCache, hash_calls: list[str]
) -> None:
    root = tmp_path / "asset"
    for i in range(2500):  # more than one 999-parameter batch
        write(root, f"part{i // 500}/f{i}.txt", str(i))
    settle(root)
    first = scan(root, cache)
    assert len(hash_calls) == 2500
    hash_calls.clear()
    assert scan(root, cache) == first
    assert hash_calls == []


@pytest.mark.parametrize("enabled", [True, False])
def test_a_memo_is_checked_with_the_collector_paused_and_left_as_found(
    tmp_path: Path, cache: SqliteHashCache, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    root = tmp_path / "asset"
    write(root, "a/one.txt", "1")
    settle(root)
    for folder in (root / "a", root):  # folders settled too: the memo vouches for them
        os.utime(folder, ns=(PAST_NS, PAST_NS))
    first = scan(root, cache)
    seen: list[bool] = []
    changed = TreeMemo.changed

    def watched(self: TreeMemo, real_root: str) -> list[tuple[int, StatKey]] | None:
        seen.append(gc.isenabled())
        return changed(self, real_root)

    monkeypatch.setattr(TreeMemo, "changed", watched)
    (gc.enable if enabled else gc.disable)()
    try:
        assert scan(root, cache) == first
        assert (seen, gc.isenabled()) == ([False], enabled)
    finally:
        gc.enable()


def test_a_changed_file_is_read_again_and_only_it(
    tmp_path: Path, cache: SqliteHashCache, hash_calls: list[str]
) -> None:
    root = tmp_path / "asset"
    write(root, "keep.txt", "keep")
    write(root, "edit.txt", "v1")
    settle(root)
    scan(root, cache)
    hash_calls.clear()
    write(root, "edit.txt", "version 2")
    manifest = scan(root, cache)
    assert hash_calls == [str((root / "edit.txt").resolve())]
    assert manifest.by_path()["edit.txt"].sha256 == hashlib.sha256(b"version 2").hexdigest()


def test_same_size_same_mtime_rewrite_is_not_noticed_the_dvc_trade_off(
    tmp_path: Path, cache: SqliteHashCache
) -> None:
    # The cache trusts (inode, mtime, size), as DVC does: a rewrite in place that keeps the
    # size and puts the old mtime back is served from the cache. Documented in hashcache.
    root = tmp_path / "asset"
    path = write(root, "x.bin", b"AAAA")
    settle(root)
    before = scan(root, cache).by_path()["x.bin"].sha256
    with path.open("r+b") as fh:
        fh.write(b"BBBB")
    os.utime(path, ns=(PAST_NS, PAST_NS))
    assert scan(root, cache).by_path()["x.bin"].sha256 == before
    assert scan(root, NoCache()).by_path()["x.bin"].sha256 == hashlib.sha256(b"BBBB").hexdigest()


def test_just_written_files_are_read_again_until_they_settle(
    tmp_path: Path, cache: SqliteHashCache, hash_calls: list[str]
) -> None:
    root = tmp_path / "asset"
    write(root, "fresh.txt", "now")
    scan(root, cache)
    scan(root, cache)
    assert len(hash_calls) == 2  # racy mtime: never cached


def test_progress_reaches_the_totals(tmp_path: Path, cache: SqliteHashCache) -> None:
    root = tmp_path / "asset"
    for i in range(5):
        write(root, f"f{i}", "x" * (i + 1))
    settle(root)
    scan(root, cache)
    write(root, "new", "yy")
    seen: list[ScanProgress] = []
    scan(root, cache, progress=seen.append)
    assert seen[0] == ScanProgress(5, 6, 15, 17)  # the cached ones, at once
    assert seen[-1] == ScanProgress(6, 6, 17, 17)


# --- ignore rules ---------------------------------------------------------------------


def test_amlignore_beats_gitignore_and_matches_azure_ml_upload_list(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, ".gitignore", "*.csv\n")
    write(root, ".amlignore", "*.log\nscratch/\n!scratch/keep.txt\n")
    for relpath in ["a.csv", "a.log", "sub/b.log", "scratch/x", "scratch/keep.txt", "sub/c.txt"]:
        write(root, relpath, relpath)
    write(root, "sub/.gitignore", "*.txt\n")  # nested rules files have no effect
    paths = {e.path for e in scan(root, NoCache()).entries}
    assert paths == {".amlignore", ".gitignore", "a.csv", "scratch/keep.txt", "sub/c.txt",
                     "sub/.gitignore"}  # fmt: skip
    uploads = get_upload_files_from_folder(root, ignore_file=get_ignore_file(root))
    assert paths == {remote for _, remote in uploads}


def test_ignored_special_files_are_fine(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, "data.txt", "d")
    write(root, ".amlignore", "pipe\n")
    os.mkfifo(root / "pipe")
    assert {e.path for e in scan(root, NoCache()).entries} == {".amlignore", "data.txt"}


# --- what an asset cannot hold ------------------------------------------------------------


def test_symlink_to_a_file_inside_is_its_content(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, "real/data.csv", "1,2\n")
    (root / "alias.csv").symlink_to("real/data.csv")
    entries = scan(root, NoCache()).by_path()
    assert entries["alias.csv"].sha256 == entries["real/data.csv"].sha256
    assert entries["alias.csv"].size == 4


def test_every_unusable_entry_is_named_at_once(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, "ok.txt", "ok")
    write(tmp_path, "outside.txt", "secret")
    (root / "out").symlink_to(tmp_path / "outside.txt")
    (root / "dangling").symlink_to(root / "missing.txt")
    (root / "folder-link").symlink_to(root)
    os.mkfifo(root / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock"))
        problems = dict(problems_of(root))
    finally:
        sock.close()
    assert set(problems) == {
        str(root / n) for n in ["out", "dangling", "folder-link", "pipe", "sock"]
    }
    assert "outside the folder" in problems[str(root / "out")]
    assert "dangling symlink" in problems[str(root / "dangling")]
    assert "symlink to a folder" in problems[str(root / "folder-link")]
    assert "named pipe (FIFO)" in problems[str(root / "pipe")]
    assert "socket" in problems[str(root / "sock")]
    assert all("plain files" in reason for reason in problems.values())


def test_a_file_that_turns_into_a_folder_is_named(tmp_path: Path) -> None:
    # Unreadable even for root: the file is replaced by a folder between walk and read.
    root = tmp_path / "asset"
    write(root, "a.txt", "a")
    write(root, "b.txt", "b")

    def swap(progress: ScanProgress) -> None:
        if progress.files_done == 1:
            (root / "b.txt").unlink()
            (root / "b.txt").mkdir()

    with pytest.raises(ConfigError) as caught:
        scan(root, NoCache(), progress=swap)
    [problem] = caught.value.problems
    assert (problem.file, problem.field) == (str(root / "b.txt"), "path")
    assert "cannot be read (Is a directory)" in problem.reason


def test_a_file_that_changes_while_scanned_is_named(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, "a.txt", "a")
    write(root, "b.txt", "bbbb")

    def truncate(progress: ScanProgress) -> None:
        if progress.files_done == 1:
            (root / "b.txt").write_bytes(b"b")

    with pytest.raises(ConfigError) as caught:
        scan(root, NoCache(), progress=truncate)
    assert [p.file for p in caught.value.problems] == [str(root / "b.txt")]
    assert "changed while it was being read" in caught.value.problems[0].reason


def test_a_name_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    root = tmp_path / "asset"
    write(root, "ok.txt", "ok")
    with open(os.fsencode(root) + b"/bad\xff.txt", "wb") as fh:  # noqa: PTH123
        fh.write(b"x")
    [(file, reason)] = problems_of(root)
    assert file == str(root / "bad\\xff.txt")
    assert "not valid UTF-8" in reason


@pytest.mark.parametrize("ignored", [False, True], ids=["empty", "all-ignored"])
def test_a_folder_without_files_is_an_error(tmp_path: Path, ignored: bool) -> None:
    root = tmp_path / "asset"
    (root / "only" / "folders").mkdir(parents=True)
    if ignored:
        write(root, "x.log", "x")
        write(root, ".amlignore", "*.log\n.amlignore\n")
    [(file, reason)] = problems_of(root)
    assert file == str(root)
    assert "folder has no files" in reason
    assert (".amlignore" in reason) is ignored


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    [(file, reason)] = problems_of(tmp_path / "nope")
    assert file == str(tmp_path / "nope")
    assert "does not exist" in reason


def test_hashes_computed_before_an_error_are_kept(
    tmp_path: Path, cache: SqliteHashCache, hash_calls: list[str]
) -> None:
    root = tmp_path / "asset"
    write(root, "a.txt", "a")
    write(root, "b.txt", "b")
    settle(root)

    def break_b(progress: ScanProgress) -> None:
        if progress.files_done == 1:
            (root / "b.txt").unlink()
            (root / "b.txt").mkdir()

    with pytest.raises(ConfigError):
        scan(root, cache, progress=break_b)
    (root / "b.txt").rmdir()
    hash_calls.clear()
    assert scan(root, cache).files == 1
    assert hash_calls == []
