"""The batch runner with real worker processes over a small folder of files."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.batch.runner import Schedule, mini_batches, run_batch
from mlstack.errors import BatchError

# Each row: file name, its content, the worker's pid and how many times init() ran in it.
ECHO = """
import os
from pathlib import Path

def init():
    global model, inits
    model = Path(os.environ["AZUREML_MODEL_DIR"], "model.txt").read_text().strip()
    inits = globals().get("inits", 0) + 1

def run(mini_batch):
    return [f"{Path(p).name},{Path(p).read_text().strip()},{model},{os.getpid()},{inits}"
            for p in mini_batch]
"""

# Two workers must be inside run() at the same time, or every call times out.
MEET = """
import os, time
from pathlib import Path

def init():
    pass

def run(mini_batch):
    rendezvous = Path(os.environ["RENDEZVOUS"])
    (rendezvous / str(os.getpid())).touch()
    while len(list(rendezvous.iterdir())) < 2:
        time.sleep(0.02)
    return [f"{Path(p).name},{os.getpid()}" for p in mini_batch]
"""

# Fails the first attempt of any mini-batch holding a file named "flaky*" (a marker file
# remembers the attempt across worker processes); always fails on "bad*"; hangs on "slow*".
FLAKY = """
import os, time
from pathlib import Path

def init():
    pass

def run(mini_batch):
    names = [Path(p).name for p in mini_batch]
    marks = Path(os.environ["MARKS"])
    for name in names:
        if name.startswith("flaky") and not (marks / name).exists():
            (marks / name).touch()
            raise RuntimeError(f"transient failure on {name}")
        if name.startswith("bad"):
            raise ValueError(f"cannot score {name}")
        if name.startswith("slow"):
            time.sleep(60)
    return names
"""


def files(folder: Path, names: list[str]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(name.upper())
    return [str(folder / name) for name in sorted(names)]


def script(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "score.py"
    path.write_text(source)
    return path


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.txt").write_text("m-7\n")
    return folder


def test_mini_batches_keep_order_and_the_short_tail() -> None:
    assert mini_batches(list("abcdefg"), 3) == [("a", "b", "c"), ("d", "e", "f"), ("g",)]


def test_rows_in_order_init_once_per_worker_model_dir_set(tmp_path: Path, model_dir: Path) -> None:
    names = [f"f{i:02d}" for i in range(11)]
    inputs = files(tmp_path / "in", names)
    seen: list[int] = []
    report = run_batch(
        script(tmp_path, ECHO), inputs, Schedule(mini_batch_size=3, concurrency=2),
        {"AZUREML_MODEL_DIR": str(model_dir)}, seen.append,
    )  # fmt: skip
    assert (report.items, report.mini_batches, report.failed_items, report.retried) == (
        11, 4, 0, 0,
    )  # fmt: skip
    assert sorted(seen) == [2, 3, 3, 3]
    rows = [row.split(",") for row in report.rows]
    assert [r[0] for r in rows] == names  # mini-batch order, whatever the scheduling
    assert all(r[1] == r[0].upper() and r[2] == "m-7" for r in rows)
    assert {r[4] for r in rows} == {"1"}  # init() ran once in each worker, never again


def test_workers_run_mini_batches_concurrently(tmp_path: Path) -> None:
    rendezvous = tmp_path / "meet"
    rendezvous.mkdir()
    inputs = files(tmp_path / "in", ["a", "b"])
    report = run_batch(
        script(tmp_path, MEET), inputs,
        Schedule(mini_batch_size=1, concurrency=2, max_retries=0, timeout=60),
        {"RENDEZVOUS": str(rendezvous)},
    )  # fmt: skip
    assert report.failed_items == 0
    assert len({row.split(",")[1] for row in report.rows}) == 2  # two processes scored


def test_a_flaky_mini_batch_is_retried(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = files(tmp_path / "in", ["a", "b", "flaky1", "z"])
    report = run_batch(
        script(tmp_path, FLAKY), inputs, Schedule(mini_batch_size=2, concurrency=2),
        {"MARKS": str(marks)},
    )  # fmt: skip
    assert (report.retried, report.failed_items) == (1, 0)
    assert list(report.rows) == ["a", "b", "flaky1", "z"]


def test_failures_ignored_with_threshold_minus_one(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = files(tmp_path / "in", ["a", "bad1", "c", "d", "e"])
    seen: list[int] = []
    report = run_batch(
        script(tmp_path, FLAKY), inputs,
        Schedule(mini_batch_size=2, concurrency=2, max_retries=2, error_threshold=-1),
        {"MARKS": str(marks)}, seen.append,
    )  # fmt: skip
    assert sorted(seen) == [1, 2, 2]  # every mini-batch reported once, failed ones too
    assert (report.failed_items, report.retried) == (2, 2)  # the whole mini-batch, 3 tries
    (failure,) = report.failures
    assert failure.files == (inputs[0], inputs[1])
    assert "ValueError: cannot score bad1" in failure.reason
    assert list(report.rows) == ["c", "d", "e"]


def test_within_the_threshold_the_job_finishes(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = files(tmp_path / "in", ["a", "bad1", "c", "d"])
    report = run_batch(
        script(tmp_path, FLAKY), inputs,
        Schedule(mini_batch_size=2, max_retries=0, error_threshold=2), {"MARKS": str(marks)},
    )  # fmt: skip
    assert report.failed_items == 2


def test_above_the_threshold_the_job_aborts(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = files(tmp_path / "in", ["a", "bad1", "c", "d"])
    with pytest.raises(BatchError, match=r"2 file\(s\) failed, more than error_threshold 1"):
        run_batch(
            script(tmp_path, FLAKY), inputs,
            Schedule(mini_batch_size=2, max_retries=1, error_threshold=1), {"MARKS": str(marks)},
        )  # fmt: skip


def test_a_hung_mini_batch_times_out_and_its_worker_is_replaced(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    inputs = files(tmp_path / "in", ["a", "slow1", "c"])
    report = run_batch(
        script(tmp_path, FLAKY), inputs,
        Schedule(mini_batch_size=1, concurrency=1, max_retries=0, timeout=1),
        {"MARKS": str(marks)},
    )  # fmt: skip
    (failure,) = report.failures
    assert "did not return within 1 s" in failure.reason
    assert list(report.rows) == ["a", "c"]  # the replacement worker scored the rest


def test_a_failing_init_stops_the_job(tmp_path: Path) -> None:
    broken = script(tmp_path, "def init():\n    raise OSError('no model here')\n\n"
                              "def run(mini_batch):\n    return mini_batch\n")  # fmt: skip
    with pytest.raises(BatchError, match=r"init\(\) of score.py failed.*no model here"):
        run_batch(broken, files(tmp_path / "in", ["a"]), Schedule(), {})
