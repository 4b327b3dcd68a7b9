"""Copy or send: what each costs on the backend at hand, measured, so each file takes the
cheaper way to its place in a new version.

A file whose content the datastore holds already can be copied server-side (no bytes
sent) or sent again from the local disk. On Azure a same-account copy is a metadata
operation and wins; on an emulator a copy may cost more than a small upload (Azurite
looks up both blobs), and on a far-away or throttled account the balance differs again.
So it is measured, not assumed: the first transfer that has enough small files with both
options copies :data:`SAMPLE` of them and sends :data:`SAMPLE` others through its pool, in
four batches (sends, copies, copies, sends: a drift in load cancels out, and the pool's
first connections are paid by sends, which biases towards copying), and compares the
wall time per file of each kind. Throughput, not request latency: requests that wait in
the same queue of a busy server (Azurite serves one at a time) all show about the same
latency whatever each costs, while the batches' wall time shows what each costs the
server. The costs are remembered per endpoint for the rest of the process (a Pulumi run
registers several assets against one).

The sample is small, and on some backends a kind costs more in bulk than in a sample (on
Azurite's LokiJS store a sample once put copies at 1.16x a send and they cost 1.9x in
bulk). So a transfer that chose by measured costs runs its steps in :data:`CHUNKS` chunks,
and a chunk made almost all of one kind replaces that kind's cost with its own wall time
per file (:meth:`Costs.corrected`) before the next chunk chooses.

Either choice stores the same bytes under the same name with the same sha256 metadata,
each proved (a send by its own request, a copy by its source's recorded ETag or a listing),
so a wrong estimate costs time, never correctness.
Copies are preferred unless sending is clearly cheaper (:data:`PREFER_COPY`): a send also
reads the file and uses the uplink, which a request timing under-counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from threading import Lock
from typing import Literal

Choice = Literal["measure", "copy", "send"]
"""``measure``: per file by measured cost; ``copy``/``send``: always that, where possible."""

SAMPLE = 32
"""Files timed of each kind (copies, sends) to calibrate an endpoint."""
MIN_CANDIDATES = 8 * SAMPLE
"""Fewer files with both options than this: not worth measuring, they are copied."""
SMALL_FILE = 256 * 1024
"""Only files up to this size are candidates for sending instead of copying."""
PREFER_COPY = 1.25
"""Send only when a copy costs this many times a send, or more."""
CHUNKS = 8
"""Chunks a measured choice runs in, each checking the costs by what the last one took."""
ONE_KIND = 0.9
"""The share of a chunk one kind must have for the chunk's time to count as that kind's."""


@dataclass(frozen=True)
class Costs:
    """Wall seconds per file of each kind, measured in batches under a transfer's concurrency."""

    copy_s: float
    send_s: float
    largest_sent: int
    """The largest file the send timing covers: bigger ones are always copied."""

    def sends(self, size: int) -> bool:
        """Whether a file of ``size`` bytes is cheaper to send than to copy."""
        return size <= max(self.largest_sent, 1) * 2 and self.send_s * PREFER_COPY < self.copy_s

    def corrected(self, copies: int, resends: int, steps: int, seconds: float) -> Costs:
        """These costs after a chunk of ``steps`` steps (``copies`` of them copies,
        ``resends`` known content sent again) took ``seconds`` under the same concurrency."""
        if steps and copies >= ONE_KIND * steps:
            return replace(self, copy_s=seconds / steps)
        if steps and resends >= ONE_KIND * steps:
            return replace(self, send_s=seconds / steps)
        return self


_lock = Lock()
_known: dict[str, Costs] = {}


def costs_of(endpoint_url: str) -> Costs | None:
    """The costs measured for this endpoint earlier in this process, if any."""
    with _lock:
        return _known.get(endpoint_url)


def remember(endpoint_url: str, costs: Costs) -> None:
    with _lock:
        _known[endpoint_url] = costs


def forget() -> None:
    """Drop every measurement (tests; or a process that knows its backend changed)."""
    with _lock:
        _known.clear()


@dataclass(frozen=True)
class Chooser:
    """Decides, file by file, whether known content is copied or sent."""

    choice: Choice
    local: bool
    """Whether the files are on the local disk at all (a promotion has none)."""
    costs: Costs | None

    def sends(self, size: int) -> bool:
        if not self.local or self.choice == "copy":
            return False
        if self.choice == "send":
            return True
        return self.costs is not None and self.costs.sends(size)

    def needs_sample(self, candidates: int) -> bool:
        """Whether this transfer should time copies against sends before choosing."""
        return (
            self.choice == "measure"
            and self.local
            and self.costs is None
            and candidates >= MIN_CANDIDATES
        )
