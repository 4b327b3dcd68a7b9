"""Early termination of sweep trials, with Azure ML's documented semantics, as pure functions.

Each time a trial logs the primary metric counts as one *interval*. A policy is applied
at interval ``n`` when ``n >= delay_evaluation`` and ``n % evaluation_interval == 0``
("applied at every interval starting at evaluation interval 5" for ``delay_evaluation=5``,
``evaluation_interval=1``). At that point a trial is compared with its *peers*: every other
trial of the sweep that has reported at least ``n`` values, running or finished.

- **bandit**: stop the trial if its best value up to ``n`` is not within the slack of the
  best peer's best value up to ``n`` (itself included). ``slack_factor`` (maximise:
  ``best / (1 + f)``; minimise: ``best * (1 + f)``) or ``slack_amount`` (``best -/+ a``).
- **median_stopping**: stop it if its best value up to ``n`` is worse than the median of
  the peers' running averages over their first ``n`` values.
- **truncation_selection**: rank the trial and its peers by the value at interval ``n``;
  stop it if it is among the lowest ``truncation_percentage`` percent (rounded down);
  ``exclude_finished_jobs`` leaves completed trials out of the ranking.

Functions take plain sequences (a trial's values in report order), so the tests can be
tables of recorded metric sequences and the sweep can re-check its own decisions.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlstack.jobs.spec import EarlyTermination

__all__ = ["Decision", "Peer", "applies_at", "decide"]


@dataclass(frozen=True)
class Peer:
    """Another trial's reported values, and whether it has finished."""

    values: Sequence[float]
    finished: bool = False


@dataclass(frozen=True)
class Decision:
    stop: bool
    interval: int
    reason: str
    threshold: float | None = None
    """The value the trial had to beat (bandit: slack bound; median: the median)."""

    def to_dict(self) -> dict[str, object]:
        return {"interval": self.interval, "reason": self.reason, "stop": self.stop,
                "threshold": self.threshold}  # fmt: skip


def applies_at(policy: EarlyTermination, interval: int) -> bool:
    """Whether the policy is evaluated when a trial has reported ``interval`` values."""
    every = max(1, policy.evaluation_interval)
    return interval >= max(1, policy.delay_evaluation) and interval % every == 0


def _best(values: Sequence[float], maximize: bool) -> float:
    return max(values) if maximize else min(values)


def _worse(value: float, than: float, maximize: bool) -> bool:
    return value < than if maximize else value > than


def _bandit(
    policy: EarlyTermination, mine: float, bests: Sequence[float], maximize: bool, n: int
) -> Decision:
    best = _best(bests, maximize)
    if policy.slack_factor > 0:
        bound = best / (1 + policy.slack_factor) if maximize else best * (1 + policy.slack_factor)
        slack = f"slack_factor {policy.slack_factor}"
    else:
        bound = best - policy.slack_amount if maximize else best + policy.slack_amount
        slack = f"slack_amount {policy.slack_amount}"
    stop = _worse(mine, bound, maximize)
    verb = "outside" if stop else "within"
    return Decision(stop, n, f"bandit at interval {n}: best {mine:.6g} is {verb} {slack} of "
                    f"the leader's {best:.6g} (bound {bound:.6g})", bound)  # fmt: skip


def _median(mine: float, averages: Sequence[float], maximize: bool, n: int) -> Decision:
    median = statistics.median(averages)
    stop = _worse(mine, median, maximize)
    verb = "worse" if stop else "no worse"
    return Decision(stop, n, f"median stopping at interval {n}: best {mine:.6g} is {verb} "
                    f"than the median running average {median:.6g}", median)  # fmt: skip


def _truncation(
    policy: EarlyTermination, mine: float, others: Sequence[float], maximize: bool, n: int
) -> Decision:
    ranked = sorted([mine, *others], reverse=not maximize)  # worst first
    cut = math.floor(len(ranked) * policy.truncation_percentage / 100)
    threshold = ranked[cut - 1] if cut else None
    # the trial is cut when fewer than ``cut`` trials are worse than it (ties are all cut)
    stop = cut > 0 and sum(_worse(v, mine, maximize) for v in ranked) < cut
    verb = "among" if stop else "not among"
    return Decision(stop, n, f"truncation selection at interval {n}: {mine:.6g} is {verb} the "
                    f"lowest {policy.truncation_percentage}% of {len(ranked)} trials",
                    threshold)  # fmt: skip


def decide(
    policy: EarlyTermination | None, goal: str, values: Sequence[float],
    peers: Mapping[str, Peer] | Sequence[Peer],
) -> Decision:  # fmt: skip
    """Whether a trial that has reported ``values`` so far should be stopped now."""
    n = len(values)
    if policy is None or n == 0 or not applies_at(policy, n):
        return Decision(False, n, "no evaluation at this interval")
    maximize = goal == "maximize"
    group = list(peers.values()) if isinstance(peers, Mapping) else list(peers)
    reached = [p for p in group if len(p.values) >= n]
    if not reached:
        return Decision(False, n, f"no other trial has reached interval {n} yet")
    mine = _best(values[:n], maximize)
    if policy.type == "bandit":
        bests = [mine, *(_best(p.values[:n], maximize) for p in reached)]
        return _bandit(policy, mine, bests, maximize, n)
    if policy.type == "median_stopping":
        return _median(mine, [statistics.fmean(p.values[:n]) for p in reached], maximize, n)
    if policy.type == "truncation_selection":
        ranked = [p.values[n - 1] for p in reached if not (policy.exclude_finished_jobs
                                                          and p.finished)]  # fmt: skip
        return _truncation(policy, values[n - 1], ranked, maximize, n)
    raise ValueError(f"unknown early termination policy {policy.type!r}")
