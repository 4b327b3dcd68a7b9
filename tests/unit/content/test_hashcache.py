from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlstack.content.hashcache import (
    CACHE_FILE,
    RACY_WINDOW_NS,
    SQL_MAX_PARAMS,
    NoCache,
    SqliteHashCache,
    StatKey,
)

OLD = time.time_ns() - 3600 * 10**9  # an mtime well outside the racy window


def key(i: int, *, inode: int = 7, mtime_ns: int = OLD, size: int = 10) -> StatKey:
    return StatKey(f"/data/file{i:05}", inode + i, mtime_ns, size)


def sha(i: int) -> str:
    return f"{i:064x}"


def test_hits_survive_reopening(tmp_path: Path) -> None:
    with SqliteHashCache(tmp_path / "hashes.db") as cache:
        cache.store({key(1): sha(1), key(2): sha(2)})
    with SqliteHashCache(tmp_path / "hashes.db") as cache:
        assert cache.lookup([key(1), key(2), key(3)]) == {key(1): sha(1), key(2): sha(2)}


@pytest.mark.parametrize(
    "changed",
    [
        {"inode": 8},
        {"mtime_ns": OLD + 1},
        {"size": 11},
    ],
    ids=["inode", "mtime", "size"],
)
def test_a_changed_stat_is_a_miss_and_the_fresh_hash_replaces_it(
    tmp_path: Path, changed: dict[str, int]
) -> None:
    with SqliteHashCache(tmp_path / "hashes.db") as cache:
        cache.store({key(0): sha(1)})
        stale = key(0, **changed)
        assert cache.lookup([stale]) == {}
        cache.store({stale: sha(2)})
        assert cache.lookup([stale]) == {stale: sha(2)}
        assert cache.lookup([key(0)]) == {}
        assert len(cache) == 1  # one row per path, no growth on change


def test_recently_modified_files_are_not_cached(tmp_path: Path) -> None:
    now = 10**18
    with SqliteHashCache(tmp_path / "hashes.db", clock=lambda: now) as cache:
        racy = key(1, mtime_ns=now - RACY_WINDOW_NS + 1)
        settled = key(2, mtime_ns=now - RACY_WINDOW_NS - 1)
        cache.store({racy: sha(1), settled: sha(2)})
        assert cache.lookup([racy, settled]) == {settled: sha(2)}


def test_large_batches_stay_under_the_parameter_limit_one_transaction_each(
    tmp_path: Path,
) -> None:
    keys = [key(i) for i in range(2500)]
    with SqliteHashCache(tmp_path / "hashes.db") as cache:
        db: sqlite3.Connection = cache._db
        # Make SQLite itself enforce the limit, so any larger statement fails.
        db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQL_MAX_PARAMS)
        statements: list[str] = []
        db.set_trace_callback(statements.append)
        cache.store({k: sha(i) for i, k in enumerate(keys)})
        found = cache.lookup(keys)
    assert found == {k: sha(i) for i, k in enumerate(keys)}
    begins = sum(s.startswith("BEGIN") for s in statements)
    commits = sum(s == "COMMIT" for s in statements)
    rows_per_batch = SQL_MAX_PARAMS // 5
    assert begins == commits == -(-2500 // rows_per_batch)
    assert sum(s.startswith("SELECT") for s in statements) == 3  # 999 + 999 + 502 paths


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    db = tmp_path / "hashes.db"
    writer = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from mlstack.content.hashcache import SqliteHashCache, StatKey
        with SqliteHashCache(Path({str(db)!r})) as cache:
            print("ready", flush=True)
            sys.stdin.readline()  # start together with the test process
            for round in range(40):
                cache.store({{StatKey(f"/other/{{round}}/{{i}}", i, {OLD}, 1): "b" * 64
                             for i in range(250)}})
        """
    )
    with SqliteHashCache(db) as cache:
        other = subprocess.Popen(
            [sys.executable, "-c", writer], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline() == "ready\n"
        other.stdin.write("go\n")
        other.stdin.close()
        for round_ in range(40):
            cache.store({StatKey(f"/mine/{round_}/{i}", i, OLD, 1): "a" * 64 for i in range(250)})
        assert other.wait(timeout=120) == 0
        other.stdout.close()
        assert len(cache) == 20_000
        assert cache._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_no_cache_remembers_nothing(tmp_path: Path) -> None:
    with NoCache() as cache:
        cache.store({key(1): sha(1)})
        assert cache.lookup([key(1)]) == {}


def test_an_unusable_cache_file_degrades_to_no_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    (home / CACHE_FILE).parent.mkdir(parents=True)
    (home / CACHE_FILE).write_bytes(b"this is not a database, it is garbage" * 100)
    with caplog.at_level(logging.WARNING):
        cache = SqliteHashCache.in_home(home)
    assert isinstance(cache, NoCache)
    assert "unusable" in caplog.text


def test_in_home_creates_the_cache_folder(tmp_path: Path) -> None:
    with SqliteHashCache.in_home(tmp_path / "home") as cache:
        cache.store({key(1): sha(1)})
    assert (tmp_path / "home" / "cache" / "hashes.db").is_file()


def test_an_older_schema_is_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "hashes.db"
    with SqliteHashCache(db) as cache:
        cache.store({key(1): sha(1)})
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA user_version=0")
    raw.commit()
    raw.close()
    with SqliteHashCache(db) as cache:
        assert len(cache) == 0
