"""SQLite files that several processes open at once: the hash cache, catalogs, job records.

The program and its provider processes (and parallel sweep trials) may open a file that
does not exist yet at the same moment. Each connection is in autocommit mode, so callers
begin transactions themselves, and the file is switched to WAL once (the mode persists).
SQLite answers that switch with "database is locked" at once, without its busy handler,
when another process is switching the same new file (measured: 18 of 800 racing opens),
so the switch is retried.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

__all__ = ["connect"]


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    """An autocommit connection to ``path`` in WAL mode; ``timeout`` is the busy timeout."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            _use_wal(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


@retry(retry=retry_if_exception(_locked), stop=stop_after_delay(60),
       wait=wait_random(0.01, 0.2), reraise=True)  # fmt: skip
def _use_wal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
