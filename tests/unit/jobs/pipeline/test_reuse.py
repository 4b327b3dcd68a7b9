"""Reuse keys and the step_reuse table: what makes a step's earlier run reusable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.manifest import Manifest
from mlstack.jobs.pipeline.reuse import KeyInput, folder_digest, remember, reusable, reuse_key
from mlstack.jobs.record import JobRecord, JobStore, StoredOutput

BASE = {"x": KeyInput(digest="sha256:aa"), "n": KeyInput(literal="3")}


def test_the_key_changes_with_each_part_and_not_with_order() -> None:
    key = reuse_key("sha256:c", "sha256:e", BASE, ["out", "model"])
    assert key == reuse_key("sha256:c", "sha256:e", dict(reversed(BASE.items())), ["model", "out"])
    assert key.startswith("sha256:")
    others = {
        reuse_key("sha256:c2", "sha256:e", BASE, ["out", "model"]),
        reuse_key("sha256:c", None, BASE, ["out", "model"]),
        reuse_key("sha256:c", "sha256:e", {**BASE, "n": KeyInput(literal="4")}, ["out", "model"]),
        reuse_key(
            "sha256:c", "sha256:e", {**BASE, "x": KeyInput(digest="sha256:ab")}, ["out", "model"]
        ),
        reuse_key("sha256:c", "sha256:e", BASE, ["out"]),
        # a literal that spells a digest is not that data
        reuse_key(
            "sha256:c", "sha256:e", {**BASE, "x": KeyInput(literal="sha256:aa")}, ["out", "model"]
        ),
    }
    assert key not in others and len(others) == 6


def _store_with_run(tmp_path: Path, status: str = "Completed") -> tuple[JobStore, Path, str]:
    store = JobStore(tmp_path / "jobs.db")
    out = tmp_path / "run" / "out"
    out.mkdir(parents=True)
    (out / "f.txt").write_text("bytes")
    store.put(JobRecord(id="p_1_a", kind="command", status=status, stack="t"))
    with SqliteHashCache.in_home(tmp_path / "home") as cache:
        digest = folder_digest(out, cache)
    remember(store, "sha256:k", "p_1_a", {"out": StoredOutput(str(out), digest)}, "now")
    return store, out, digest


def test_an_intact_completed_run_is_reusable(tmp_path: Path) -> None:
    store, out, digest = _store_with_run(tmp_path)
    with SqliteHashCache.in_home(tmp_path / "home") as cache:
        entry = reusable(store, "sha256:k", ["out"], cache)
        assert entry is not None and entry.job_id == "p_1_a"
        assert entry.outputs == {"out": StoredOutput(str(out), digest)}
        assert reusable(store, "sha256:other", ["out"], cache) is None
        assert reusable(store, "sha256:k", ["out", "extra"], cache) is None


def test_a_changed_missing_or_unfinished_run_is_not(tmp_path: Path) -> None:
    store, out, _ = _store_with_run(tmp_path)
    with SqliteHashCache.in_home(tmp_path / "home") as cache:
        (out / "f.txt").write_text("other bytes")
        assert reusable(store, "sha256:k", ["out"], cache) is None
        (out / "f.txt").unlink()
        out.rmdir()
        assert reusable(store, "sha256:k", ["out"], cache) is None
    failed, _, _ = _store_with_run(tmp_path / "second", status="Failed")
    with SqliteHashCache.in_home(tmp_path / "home") as cache:
        assert reusable(failed, "sha256:k", ["out"], cache) is None


def test_an_empty_output_has_the_empty_manifest_digest(tmp_path: Path) -> None:
    (tmp_path / "out" / "nothing" / "here").mkdir(parents=True)
    with SqliteHashCache.in_home(tmp_path / "home") as cache:
        assert folder_digest(tmp_path / "out", cache) == Manifest.of(()).digest


def test_a_jobs_db_from_before_the_table_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with sqlite3.connect(path) as db:  # the schema as it was: jobs alone
        db.execute(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, parent TEXT, kind TEXT NOT NULL, "
            "status TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL)"
        )
    db.close()
    store = JobStore(path)
    assert store.get_reuse("sha256:k") is None
    store.put(JobRecord(id="old", kind="command", status="Completed", stack="t"))
    remember(store, "sha256:k", "old", {}, "now")
    entry = store.get_reuse("sha256:k")
    assert entry is not None and entry.job_id == "old"
    assert store.get("old").status == "Completed"
