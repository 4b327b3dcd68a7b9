"""The one retry policy (tenacity): what is retried, how long it waits, how it gives up."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from mlstack.content import retry
from mlstack.content.retry import JOB_POLLS, RetryPolicy, poll_until, with_retry
from mlstack.errors import ImmutableError, WorkspaceError

POLICY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0)


class Response:
    """Just what ``HttpResponseError`` reads of a response."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "reason"
        self.headers = headers or {}

    def text(self) -> str:
        return ""


def http_error(status: int, **headers: str) -> HttpResponseError:
    return HttpResponseError(
        response=Response(status, {k.replace("_", "-"): v for k, v in headers.items()})
    )


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(retry, "time", SimpleNamespace(sleep=pauses.append))
    return pauses


def failing(*failures: BaseException, result: Any = "done") -> Any:
    """A call that raises ``failures`` in turn, then returns ``result``."""
    left = list(failures)
    calls: list[int] = []

    def call() -> Any:
        calls.append(1)
        if left:
            raise left.pop(0)
        return result

    call.calls = calls  # type: ignore[attr-defined]
    return call


def test_transient_failures_are_retried_with_full_jitter(slept: list[float]) -> None:
    call = failing(ServiceRequestError("refused"), http_error(503), http_error(429))
    assert with_retry(call, "reading x", POLICY) == "done"
    assert len(call.calls) == 4
    assert len(slept) == 3
    for attempt, pause in enumerate(slept, start=1):  # uniform below base * 2^(n-1)
        assert 0 <= pause <= 0.5 * 2 ** (attempt - 1)


def test_a_server_asking_to_retry_later_is_waited_for(slept: list[float]) -> None:
    call = failing(http_error(503, Retry_After="3"), http_error(429, Retry_After="600"))
    assert with_retry(call, "reading x", POLICY) == "done"
    assert slept == [3.0, retry.RETRY_AFTER_CAP_S]  # above the backoff, never above the cap


def test_other_failures_fail_at_once_naming_what_was_done(slept: list[float]) -> None:
    call = failing(http_error(404))
    with pytest.raises(WorkspaceError, match=r"^reading x failed: HTTP 404$"):
        with_retry(call, "reading x", POLICY)
    assert len(call.calls) == 1 and slept == []
    own = failing(ImmutableError("write-once"))  # mlstack's own errors pass through as they are
    with pytest.raises(ImmutableError, match="write-once"):
        with_retry(own, "reading x", POLICY)


def test_giving_up_says_how_often_it_tried(slept: list[float]) -> None:
    call = failing(*[ConnectionResetError("reset")] * 5)
    with pytest.raises(WorkspaceError, match=r"reading x failed after 4 attempts: Connection"):
        with_retry(call, "reading x", POLICY)
    assert len(call.calls) == 4 and len(slept) == 3


def test_polls_wait_without_jitter_up_to_the_cap(slept: list[float]) -> None:
    statuses = iter(["Starting", "Queued", "Running", "Running", "Running", "Completed"])
    policy = RetryPolicy(attempts=None, base_delay=1.0, max_delay=5.0, factor=2.0, jitter=False)
    assert poll_until(lambda: next(statuses), lambda s: s == "Completed", policy) == "Completed"
    assert slept == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert (JOB_POLLS.base_delay, JOB_POLLS.factor, JOB_POLLS.max_delay) == (2.0, 1.5, 30.0)


def test_a_policy_needs_an_attempt() -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy(attempts=0)
