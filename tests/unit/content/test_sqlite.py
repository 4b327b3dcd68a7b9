"""Processes that open the same new SQLite file at once all get a WAL connection."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from mlstack.content.sqlite import connect


def _open(path: str) -> str:
    conn = connect(Path(path), timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        conn.execute("COMMIT")
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def test_racing_opens_of_a_new_file_all_succeed_in_wal_mode(tmp_path: Path) -> None:
    # Without the retry, SQLite refused about 2% of such opens with "database is locked".
    files = [str(tmp_path / f"{i}.db") for i in range(200) for _ in range(4)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        modes = pool.map(_open, files, chunksize=1)
    assert modes == ["wal"] * len(files)
