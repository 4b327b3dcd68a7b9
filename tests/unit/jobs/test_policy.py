"""Early-termination decisions against recorded metric sequences (Azure ML semantics)."""

from __future__ import annotations

import pytest

from mlstack.jobs.policy import Peer, applies_at, decide
from mlstack.jobs.spec import EarlyTermination

BANDIT = EarlyTermination("bandit", evaluation_interval=1, delay_evaluation=0, slack_factor=0.2)
AMOUNT = EarlyTermination("bandit", evaluation_interval=1, slack_amount=0.1)
MEDIAN = EarlyTermination("median_stopping", evaluation_interval=1, delay_evaluation=1)
TRUNC = EarlyTermination("truncation_selection", evaluation_interval=1, truncation_percentage=25)
TRUNC_EX = EarlyTermination("truncation_selection", evaluation_interval=1,
                            truncation_percentage=50, exclude_finished_jobs=True)  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "interval", "expected"),
    [
        (EarlyTermination("bandit", 1, 5), 4, False),
        (EarlyTermination("bandit", 1, 5), 5, True),  # "starting at evaluation interval 5"
        (EarlyTermination("bandit", 2, 0), 1, False),
        (EarlyTermination("bandit", 2, 0), 2, True),
        (EarlyTermination("bandit", 2, 3), 3, False),
        (EarlyTermination("bandit", 2, 3), 4, True),
    ],
)
def test_policies_apply_at_their_intervals(
    policy: EarlyTermination, interval: int, expected: bool
) -> None:
    assert applies_at(policy, interval) is expected


@pytest.mark.parametrize(
    ("policy", "goal", "mine", "peers", "stop"),
    [
        # Azure's example: leader 0.8, slack_factor 0.2 -> bound 0.8/1.2 = 0.667
        (BANDIT, "maximize", [0.65], [[0.8]], True),
        (BANDIT, "maximize", [0.67], [[0.8]], False),
        (BANDIT, "maximize", [0.3, 0.7], [[0.8, 0.9]], True),  # 0.7 < 0.9/1.2 = 0.75
        (BANDIT, "maximize", [0.3, 0.76], [[0.8, 0.9]], False),
        (BANDIT, "maximize", [0.9, 0.1], [[0.8, 0.85]], False),  # its best so far counts
        (BANDIT, "minimize", [1.3], [[1.0]], True),  # loss above 1.0 * 1.2
        (BANDIT, "minimize", [1.1], [[1.0]], False),
        (AMOUNT, "maximize", [0.69], [[0.8]], True),
        (AMOUNT, "maximize", [0.71], [[0.8]], False),
        (BANDIT, "maximize", [0.1, 0.1], [[0.9]], False),  # no peer reached interval 2
        (BANDIT, "maximize", [0.1], [], False),
        # median of running averages: peers avg over 2 intervals = 0.5, 0.7, 0.9 -> 0.7
        (MEDIAN, "maximize", [0.6, 0.65], [[0.4, 0.6], [0.6, 0.8], [0.8, 1.0]], True),
        (MEDIAN, "maximize", [0.6, 0.75], [[0.4, 0.6], [0.6, 0.8], [0.8, 1.0]], False),
        (MEDIAN, "minimize", [0.9, 0.8], [[0.5, 0.5], [0.7, 0.7], [0.9, 0.9]], True),
        # truncation: 4 trials, lowest 25% (1 trial) cut at the value of this interval
        (TRUNC, "maximize", [0.2], [[0.5], [0.6], [0.7]], True),
        (TRUNC, "maximize", [0.55], [[0.5], [0.6], [0.7]], False),
        (TRUNC, "maximize", [0.2], [[0.5], [0.6]], False),  # 3 trials: 25% rounds down to 0
        (TRUNC, "minimize", [0.9], [[0.5], [0.6], [0.7]], True),
    ],
)
def test_decisions_follow_the_recorded_metrics(
    policy: EarlyTermination, goal: str, mine: list[float], peers: list[list[float]], stop: bool
) -> None:
    decision = decide(policy, goal, mine, [Peer(p) for p in peers])
    assert decision.stop is stop, decision.reason
    assert decision.interval == len(mine)


def test_truncation_can_leave_finished_trials_out_of_the_ranking() -> None:
    peers = [Peer([0.1], finished=True), Peer([0.9])]
    keep = EarlyTermination("truncation_selection", 1, 0, truncation_percentage=50)
    assert not decide(keep, "maximize", [0.3], peers).stop  # the finished 0.1 is lowest
    assert decide(TRUNC_EX, "maximize", [0.3], peers).stop  # without it, 0.3 is


def test_no_policy_never_stops() -> None:
    assert not decide(None, "maximize", [0.0], [Peer([1.0])]).stop


def test_bandit_reports_its_bound() -> None:
    decision = decide(BANDIT, "maximize", [0.5], [Peer([0.9])])
    assert decision.threshold == pytest.approx(0.9 / 1.2)
    assert "bandit at interval 1" in decision.reason
