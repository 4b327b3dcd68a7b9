"""Job records: what ran, on which exact inputs, how it went; one SQLite file per stack.

``<home>/stacks/<stack>/jobs.db`` belongs to this package alone, so the workspace
catalog's schema is untouched. Azure ML keeps the same facts on its job resource (id,
status, inputs, outputs, metrics, start and end); the statuses are the service's
(``Running``, ``Completed``, ``Failed``, ``Canceled``). A sweep is one record and each
trial a record whose ``parent`` is the sweep, as child jobs are on the service; a
pipeline likewise, one record per step. ``step_reuse`` remembers, per reuse key of a
pipeline step (:mod:`mlstack.jobs.pipeline.reuse`), the run whose outputs it may reuse;
it was added beside ``jobs`` without a version bump, so older files simply gain it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlstack.content.sqlite import connect
from mlstack.errors import NotFoundError

__all__ = ["JobRecord", "JobStore", "ReuseEntry", "StoredOutput", "jobs_folder", "store_path"]

SCHEMA_VERSION = 1
_SCHEMA = """CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    parent      TEXT,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL)"""
_REUSE_SCHEMA = """CREATE TABLE IF NOT EXISTS step_reuse (
    key         TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    outputs     TEXT NOT NULL,
    created_at  TEXT NOT NULL)"""
FINAL = frozenset({"Completed", "Failed", "Canceled"})


def store_path(home: Path, stack: str) -> Path:
    return home / "stacks" / stack / "jobs.db"


def jobs_folder(home: Path, stack: str) -> Path:
    """Where each job's working folder (logs, metrics, outputs) lives."""
    return home / "stacks" / stack / "jobs"


@dataclass(frozen=True)
class JobRecord:
    """One job or trial. ``inputs`` holds exact versions and digests, never ``@latest``."""

    id: str
    kind: str
    status: str
    stack: str
    source: str = ""
    command: str = ""
    parent: str | None = None
    workdir: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, Any] | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    exit_code: int | None = None
    reason: str = ""
    """Why it ended as it did (e.g. the early-termination decision)."""
    created_at: str = ""
    started_at: str = ""
    ended_at: str = ""
    duration: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Kind-specific facts: a sweep's best trial, objective and policy."""

    def to_dict(self) -> dict[str, Any]:
        body = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in ("inputs", "outputs", "parameters", "metrics", "extra"):
            body[key] = dict(body[key])
        if self.environment is not None:
            body["environment"] = dict(self.environment)
        return json.loads(json.dumps(body, sort_keys=True))  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JobRecord:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)

    def evolve(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)


@dataclass(frozen=True)
class StoredOutput:
    """One output folder of a finished step and the digest it had then."""

    path: str
    digest: str


@dataclass(frozen=True)
class ReuseEntry:
    """The step run whose outputs a later step with the same reuse key may take over."""

    key: str
    job_id: str
    outputs: Mapping[str, StoredOutput]
    created_at: str


class JobStore:
    """The jobs of one stack. Writes take the lock up front (``BEGIN IMMEDIATE``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def at(cls, home: Path, stack: str) -> JobStore:
        return cls(store_path(home, stack))

    @contextmanager
    def _db(self, write: bool) -> Iterator[sqlite3.Connection]:
        if not write and not self.path.exists():
            raise NotFoundError(f"no job has run on this stack yet ({self.path} is absent)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = connect(self.path, timeout=30)
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            if write:
                db.execute(_SCHEMA)
                db.execute(_REUSE_SCHEMA)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def put(self, record: JobRecord) -> JobRecord:
        """Insert or replace the record (a job is written at start and again at the end)."""
        body = json.dumps(record.to_dict(), sort_keys=True)
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "status = excluded.status, body = excluded.body",
                (record.id, record.parent, record.kind, record.status, body, record.created_at),
            )
        return record

    def get(self, job_id: str) -> JobRecord:
        with self._db(write=False) as db:
            row = db.execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no job {job_id!r} on this stack: `mlstack job list` shows them")
        return JobRecord.from_dict(json.loads(row[0]))

    def list(self, parent: str | None = None, *, children: bool = False) -> list[JobRecord]:
        """Top-level jobs, newest first; with ``parent``, that sweep's trials in order."""
        try:
            with self._db(write=False) as db:
                if parent is not None:
                    rows = db.execute(
                        "SELECT body FROM jobs WHERE parent = ? ORDER BY created_at, id", (parent,)
                    ).fetchall()
                elif children:
                    rows = db.execute(
                        "SELECT body FROM jobs ORDER BY created_at DESC, id"
                    ).fetchall()
                else:
                    rows = db.execute(
                        "SELECT body FROM jobs WHERE parent IS NULL ORDER BY created_at DESC, id"
                    ).fetchall()
        except NotFoundError:
            return []
        return [JobRecord.from_dict(json.loads(r[0])) for r in rows]

    def put_reuse(self, entry: ReuseEntry) -> None:
        """Remember (or replace) the completed run a reuse key now points to."""
        outputs = {k: {"digest": v.digest, "path": v.path} for k, v in entry.outputs.items()}
        with self._db(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO step_reuse VALUES (?, ?, ?, ?)",
                (entry.key, entry.job_id, json.dumps(outputs, sort_keys=True), entry.created_at),
            )

    def get_reuse(self, key: str) -> ReuseEntry | None:
        """The run recorded under ``key``; None if none (or the file predates the table)."""
        try:
            with self._db(write=False) as db:
                row = db.execute(
                    "SELECT job_id, outputs, created_at FROM step_reuse WHERE key = ?", (key,)
                ).fetchone()
        except NotFoundError:
            return None
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return None
            raise
        if row is None:
            return None
        outputs = {k: StoredOutput(v["path"], v["digest"]) for k, v in json.loads(row[1]).items()}
        return ReuseEntry(key, row[0], outputs, row[2])
