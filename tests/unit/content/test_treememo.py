"""The tree memo: a no-op scan trusts it, and every kind of change still shows."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlstack.content import scan as scan_module
from mlstack.content.hashcache import NoCache, SqliteHashCache
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.scan import hash_file, scan
from mlstack.content.treememo import TreeMemo

PAST_NS = time.time_ns() - 3600 * 10**9
FILES = {"a/1.png": b"one", "a/2.png": b"two", "b/3.png": b"three", "top.csv": b"x,y\n"}


def write(root: Path, relpath: str, data: bytes, *, at_ns: int = PAST_NS) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(at_ns, at_ns))
    return path


def settle(root: Path) -> None:
    """Date every folder an hour back too (files are dated by ``write``): a settled tree."""
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            os.utime(path, ns=(PAST_NS, PAST_NS))


def expected(files: dict[str, bytes]) -> Manifest:
    return Manifest.of(
        FileEntry(rel, len(data), hashlib.sha256(data).hexdigest()) for rel, data in files.items()
    )


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[SqliteHashCache]:
    with SqliteHashCache(tmp_path / "home" / "hashes.db") as opened:
        yield opened


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "asset"
    for rel, data in FILES.items():
        write(folder, rel, data)
    settle(folder)
    return folder


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every full walk of a tree (a scan the memo did not vouch for)."""
    calls: list[Path] = []
    real = scan_module._walk

    def counting(root: Path, rules: object) -> object:
        calls.append(root)
        return real(root, rules)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module, "_walk", counting)
    return calls


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def counting(path: str) -> tuple[str, int]:
        calls.append(Path(path).name)
        return hash_file(path)

    monkeypatch.setattr(scan_module, "hash_file", counting)
    return calls


def test_an_unchanged_tree_is_served_from_the_memo_without_a_walk(
    root: Path, cache: SqliteHashCache, walks: list[Path], reads: list[str]
) -> None:
    first = scan(root, cache)
    assert first == expected(FILES)
    assert (len(walks), len(reads)) == (1, len(FILES))

    again = scan(root, cache)

    assert again == first and again.digest == first.digest
    assert (len(walks), len(reads)) == (1, len(FILES))  # no walk, no read
    memo = TreeMemo.loads(cache.tree(os.path.realpath(root)))
    assert memo is not None and memo.links == {} and memo.digest == first.digest


def test_a_file_rewritten_in_place_is_hashed_again_and_alone(
    root: Path, cache: SqliteHashCache, walks: list[Path], reads: list[str]
) -> None:
    scan(root, cache)
    write(root, "a/2.png", b"TWO, longer", at_ns=PAST_NS + 10**9)  # folder mtime unchanged

    manifest = scan(root, cache)

    assert manifest == expected({**FILES, "a/2.png": b"TWO, longer"})
    assert len(walks) == 1 and reads[len(FILES) :] == ["2.png"]
    assert scan(root, cache) == manifest  # and the patched memo serves the next scan
    assert len(walks) == 1


@pytest.mark.parametrize("change", ["added", "removed", "renamed", "ignored"])
def test_a_change_of_names_walks_the_tree_again(
    root: Path, cache: SqliteHashCache, walks: list[Path], change: str
) -> None:
    scan(root, cache)
    files = dict(FILES)
    if change == "added":
        write(root, "b/4.png", b"four")
        files["b/4.png"] = b"four"
    elif change == "removed":
        (root / "a/1.png").unlink()
        del files["a/1.png"]
    elif change == "renamed":
        (root / "a/1.png").rename(root / "a/9.png")
        files["a/9.png"] = files.pop("a/1.png")
    else:  # a rules file appears at the root: it is an asset file, and it excludes b/
        write(root, ".amlignore", b"b/\n")
        files[".amlignore"] = b"b/\n"
        del files["b/3.png"]

    assert scan(root, cache) == expected(files)
    assert len(walks) == 2


def test_a_changed_rules_file_is_a_full_scan(
    root: Path, cache: SqliteHashCache, walks: list[Path]
) -> None:
    write(root, ".amlignore", b"b/\n")
    settle(root)
    scan(root, cache)
    write(root, ".amlignore", b"a/\n", at_ns=PAST_NS + 10**9)  # same folder, new rules

    manifest = scan(root, cache)

    assert sorted(manifest.by_path()) == [".amlignore", "b/3.png", "top.csv"]
    assert len(walks) == 2


def test_a_symlinked_file_follows_its_target(
    root: Path, cache: SqliteHashCache, walks: list[Path]
) -> None:
    (root / "link.png").symlink_to(root / "b/3.png")
    settle(root)
    scan(root, cache)
    write(root, "b/3.png", b"THREE", at_ns=PAST_NS + 10**9)

    manifest = scan(root, cache)

    by_path = manifest.by_path()
    assert by_path["link.png"].sha256 == by_path["b/3.png"].sha256
    assert by_path["link.png"].sha256 == hashlib.sha256(b"THREE").hexdigest()
    assert len(walks) == 1  # the memo followed the link itself


def test_recent_changes_are_not_memoised(root: Path, cache: SqliteHashCache) -> None:
    """An mtime inside the racy window could hide a second change in the same tick."""
    write(root, "a/1.png", b"just now", at_ns=time.time_ns())
    scan(root, cache)
    assert cache.tree(os.path.realpath(root)) is None

    os.utime(root / "a/1.png", ns=(PAST_NS, PAST_NS))
    os.utime(root, ns=(time.time_ns(), time.time_ns()))  # a folder changed just now
    scan(root, cache)
    assert cache.tree(os.path.realpath(root)) is None


def test_an_unreadable_or_foreign_memo_is_a_miss(
    root: Path, cache: SqliteHashCache, walks: list[Path]
) -> None:
    cache.store_tree(os.path.realpath(root), b"not a memo")
    assert scan(root, cache) == expected(FILES)
    assert TreeMemo.loads(b"\x00garbage") is None
    assert len(walks) == 1


def test_the_null_cache_keeps_no_memo(root: Path, walks: list[Path]) -> None:
    assert scan(root, NoCache()) == scan(root, NoCache()) == expected(FILES)
    assert len(walks) == 2
