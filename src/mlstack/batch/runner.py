"""Run a scoring script over files the way an Azure ML batch deployment does.

The files are split into mini-batches of ``mini_batch_size``, in path order, and handed
to ``concurrency`` worker processes (:mod:`mlstack.batch.scoring`); each worker runs the
script's ``init()`` once, then ``run(mini_batch)`` per mini-batch. A mini-batch that
raises, outlives ``timeout`` seconds (its worker is killed and replaced) or loses its
worker is retried up to ``max_retries`` times; after that its files count as failed.
As Azure ML documents ``error_threshold``: when the failed files of the whole input go
above it the job is aborted; -1 ignores every failure. The rows come back in mini-batch
order whatever the scheduling, so equal inputs give equal output (and one data version).

Workers are started with ``spawn``: a clean interpreter per worker, as on a compute node,
with no lock or thread inherited from the caller (a progress bar, an HTTP pool).
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from mlstack.batch.scoring import Message, serve
from mlstack.errors import BatchError

__all__ = ["BatchReport", "Failure", "Schedule", "mini_batches", "run_batch"]

_POLL = 0.05  # seconds between timeout checks while waiting for a worker


@dataclass(frozen=True)
class Schedule:
    """How the mini-batches run: Azure ML's batch deployment settings and defaults."""

    mini_batch_size: int = 10
    concurrency: int = 1
    max_retries: int = 3
    timeout: float = 30
    error_threshold: int = -1
    """Failed files tolerated; -1 tolerates all."""


@dataclass(frozen=True)
class Failure:
    """A mini-batch that failed its last retry: its files and the last reason."""

    index: int
    files: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class BatchReport:
    """What a job did: counts, the rows in mini-batch order, and what failed."""

    items: int
    mini_batches: int
    rows: tuple[str, ...]
    failures: tuple[Failure, ...]
    retried: int
    """Mini-batch attempts that were repeated after a failure."""
    seconds: float

    @property
    def failed_items(self) -> int:
        return sum(len(f.files) for f in self.failures)


def mini_batches(files: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """``files`` in consecutive chunks of ``size`` (the last may be shorter)."""
    return [tuple(files[i : i + size]) for i in range(0, len(files), size)]


@contextmanager
def _bare_main() -> Iterator[None]:
    """Keep ``spawn`` from re-running the caller's ``__main__`` in each worker.

    A worker needs nothing from it (``serve`` is imported by name), and for the ``mlstack``
    command that re-run is a second import of the whole CLI per worker, about a second
    each. ``spawn`` reads ``__main__``'s ``__spec__`` and ``__file__`` when the process
    starts, so they are hidden for exactly that call.
    """
    main = sys.modules["__main__"]
    spec, file = getattr(main, "__spec__", None), main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__spec__ = spec
        if file is not None:
            main.__file__ = file


@dataclass
class _Workers:
    """The worker processes, each with its own task queue, and what each is doing."""

    script: Path
    env: Mapping[str, str]
    context: multiprocessing.context.SpawnContext = field(
        default_factory=lambda: multiprocessing.get_context("spawn")
    )
    results: Queue[Message] = field(init=False)
    processes: dict[int, tuple[SpawnProcess, Queue[Any]]] = field(default_factory=dict)
    ready: set[int] = field(default_factory=set)
    busy: dict[int, tuple[int, float]] = field(default_factory=dict)
    """Worker id to (mini-batch index, monotonic start)."""
    _next: int = 0

    def __post_init__(self) -> None:
        self.results = self.context.Queue()

    def spawn(self) -> None:
        worker, self._next = self._next, self._next + 1
        tasks: Queue[Any] = self.context.Queue()
        process = self.context.Process(
            target=serve,
            args=(worker, str(self.script), dict(self.env), tasks, self.results),
            name=f"mlstack-batch-{worker}",
            daemon=True,
        )
        with _bare_main():
            process.start()
        self.processes[worker] = (process, tasks)

    def replace(self, worker: int) -> None:
        """Kill ``worker`` (hung or dead) and start a fresh one in its place."""
        process, _ = self.processes.pop(worker)
        process.kill()
        process.join()
        self.ready.discard(worker)
        self.busy.pop(worker, None)
        self.spawn()

    def assign(self, worker: int, index: int, files: tuple[str, ...]) -> None:
        self.processes[worker][1].put((index, list(files)))
        self.busy[worker] = (index, time.monotonic())

    def idle(self) -> list[int]:
        return [w for w in sorted(self.ready) if w not in self.busy and w in self.processes]

    def close(self) -> None:
        for process, tasks in self.processes.values():
            if process.is_alive():
                tasks.put(None)
        for process, _ in self.processes.values():
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        self.processes.clear()


@dataclass
class _Job:
    """One run's bookkeeping: what is pending, attempts, rows, failures."""

    batches: list[tuple[str, ...]]
    schedule: Schedule
    script: Path
    pending: deque[int] = field(default_factory=deque)
    attempts: dict[int, int] = field(default_factory=dict)
    rows: dict[int, list[str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    retried: int = 0
    order: list[int] = field(default_factory=list)
    """Mini-batch indexes in the order they finished (scored or failed for good)."""

    @property
    def finished(self) -> int:
        return len(self.order)

    def done(self, index: int, rows: list[str]) -> None:
        self.rows[index] = rows
        self.order.append(index)

    def fail(self, index: int, reason: str) -> None:
        self.attempts[index] = self.attempts.get(index, 0) + 1
        if self.attempts[index] <= self.schedule.max_retries:
            self.retried += 1
            self.pending.append(index)
            return
        self.failures.append(Failure(index, self.batches[index], reason))
        self.order.append(index)
        failed = sum(len(f.files) for f in self.failures)
        threshold = self.schedule.error_threshold
        if threshold >= 0 and failed > threshold:
            raise BatchError(
                f"{failed} file(s) failed, more than error_threshold {threshold}: the job "
                f"is aborted and nothing was written. Last failure (mini-batch {index}, "
                f"{len(self.batches[index])} files, after {self.attempts[index]} attempts): "
                f"{reason}. Fix {self.script.name} or the input, or raise error_threshold "
                "(-1 ignores failures)"
            )


def run_batch(
    script: Path,
    files: Sequence[str],
    schedule: Schedule,
    env: Mapping[str, str],
    on_progress: Callable[[int], None] | None = None,
) -> BatchReport:
    """Score ``files`` with ``script`` in worker processes; ``on_progress(n)`` per finished
    mini-batch (n files). Raises ``BatchError`` when ``init()`` fails or the threshold is
    crossed; no partial report is returned then."""
    started = time.monotonic()
    job = _Job(mini_batches(files, schedule.mini_batch_size), schedule, script)
    job.pending.extend(range(len(job.batches)))
    workers = _Workers(script, env)
    try:
        for _ in range(min(schedule.concurrency, len(job.batches))):
            workers.spawn()
        while job.finished < len(job.batches):
            before = job.finished
            _step(workers, job)
            if on_progress is not None and job.finished > before:
                on_progress(sum(len(job.batches[i]) for i in job.order[before:]))
    finally:
        workers.close()
    return BatchReport(
        items=len(files),
        mini_batches=len(job.batches),
        rows=tuple(row for index in sorted(job.rows) for row in job.rows[index]),
        failures=tuple(sorted(job.failures, key=lambda f: f.index)),
        retried=job.retried,
        seconds=time.monotonic() - started,
    )


def _step(workers: _Workers, job: _Job) -> None:
    """Hand out work, take one message (or none within the poll), then police timeouts."""
    for worker in workers.idle():
        if not job.pending:
            break
        index = job.pending.popleft()
        workers.assign(worker, index, job.batches[index])
    try:
        kind, worker, payload = workers.results.get(timeout=_POLL)
    except queue.Empty:
        kind, worker, payload = "", -1, None
    if kind == "ready" and worker in workers.processes:
        workers.ready.add(worker)
    elif kind == "init-failed":
        raise BatchError(
            f"init() of {job.script.name} failed in a worker process: {payload}. Fix the "
            "script (it runs once per worker, with AZUREML_MODEL_DIR set); nothing was written"
        )
    elif kind in ("done", "failed") and workers.busy.get(worker, (-1,))[0] == payload[0]:
        index = workers.busy.pop(worker)[0]
        if kind == "done":
            job.done(index, payload[1])
        else:
            job.fail(index, payload[1])
    _police(workers, job)


def _police(workers: _Workers, job: _Job) -> None:
    """Replace workers that outlived the timeout or died; their mini-batch fails an attempt."""
    now = time.monotonic()
    for worker, (index, since) in list(workers.busy.items()):
        process = workers.processes[worker][0]
        if now - since > job.schedule.timeout:
            workers.replace(worker)
            job.fail(index, f"run(mini_batch) did not return within {job.schedule.timeout:g} s")
        elif not process.is_alive():
            workers.replace(worker)
            job.fail(index, f"the worker process exited (code {process.exitcode}) in run()")
    for worker, (process, _) in list(workers.processes.items()):
        if worker not in workers.ready and not process.is_alive():
            raise BatchError(
                f"a worker process exited (code {process.exitcode}) while importing "
                f"{job.script.name} or running its init(): fix the script; nothing was written"
            )
