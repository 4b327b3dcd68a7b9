"""The one retry policy: which failures deserve another try, how long to wait, how often.

tenacity runs every loop; this module configures it once, for every layer above it:

- :func:`with_retry` — blob transfers, listings and markers (``content``): transient
  failures (connection trouble, timeouts, throttling, 5xx) are tried again up to
  ``attempts`` times with exponential backoff and full jitter, so parallel workers do not
  retry in lockstep; a server's ``Retry-After`` is honoured when it asks for longer.
  Anything else fails at once as a ``WorkspaceError`` naming what was being done.
- :func:`poll_until` — job status polls (``jobs.submit``): the same waits, without
  jitter, until the result is final (``JOB_POLLS``: 2 s growing by half to 30 s).

Calls that go through azure-core's pipeline (``MLClient``) keep azure-core's own retry
of transient HTTP errors underneath; the blob clients of a transfer have theirs switched
off, so a dead server costs ``attempts`` tries, not ``attempts`` times the SDK's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity
from azure.core.exceptions import (
    HttpResponseError,
    IncompleteReadError,
    ServiceRequestError,
    ServiceResponseError,
)

from mlstack.errors import MlstackError, WorkspaceError

T = TypeVar("T")
RETRY_AFTER_CAP_S = 60.0  # a server asking for longer is waited for this long at most


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try and how long to wait: ``base_delay * factor ** (n - 1)`` after the
    n-th failed try, at most ``max_delay``, drawn uniformly below that when ``jitter``."""

    attempts: int | None = 5
    """Tries in all, the first included; None: no limit (a poll ends by its result)."""
    base_delay: float = 0.5
    max_delay: float = 8.0
    factor: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def stop(self) -> tenacity.stop.stop_base:
        return (
            tenacity.stop_never
            if self.attempts is None
            else tenacity.stop_after_attempt(self.attempts)
        )

    def wait(self) -> tenacity.wait.wait_base:
        kind = tenacity.wait_random_exponential if self.jitter else tenacity.wait_exponential
        return kind(multiplier=self.base_delay, max=self.max_delay, exp_base=self.factor)


DEFAULT_RETRY = RetryPolicy()
JOB_POLLS = RetryPolicy(attempts=None, base_delay=2.0, max_delay=30.0, factor=1.5, jitter=False)


class RetryableError(Exception):
    """Raised inside a retried call to ask for another try; never escapes :func:`with_retry`."""


def is_transient(exc: BaseException) -> bool:
    """Connection trouble, timeouts, throttling and server errors; never 4xx or local I/O."""
    if isinstance(
        exc,
        ServiceRequestError | ServiceResponseError | IncompleteReadError | RetryableError,
    ):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        return status is not None and (status in (408, 429) or status >= 500)
    return False


def retry_after(exc: BaseException | None) -> float:
    """The seconds a throttling or busy server asked for (``Retry-After``), else 0."""
    response = getattr(exc, "response", None) if isinstance(exc, HttpResponseError) else None
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP_S) if value is not None else 0.0
    except ValueError:  # an HTTP date: Azure services send seconds, so back off as usual
        return 0.0


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so a test can replace ``time``


def _reason(exc: BaseException) -> str:
    """A one-line cause; SDK messages carry XML bodies and request details we do not echo."""
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        error_code = getattr(exc, "error_code", None)  # set by azure-storage, not azure-core
        code = f" {error_code}" if error_code else ""
        return f"HTTP {exc.status_code}{code}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def with_retry(call: Callable[[], T], what: str, retry: RetryPolicy = DEFAULT_RETRY) -> T:
    """Run ``call``, retrying transient failures; otherwise fail with ``what`` in the message."""
    backoff = retry.wait()

    def wait(state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        return max(backoff(state), retry_after(failure))

    retrying = tenacity.Retrying(
        stop=retry.stop(),
        wait=wait,
        retry=tenacity.retry_if_exception(
            lambda exc: is_transient(exc) and not isinstance(exc, MlstackError)
        ),
        sleep=_sleep,
        reraise=True,
    )
    try:
        return retrying(call)
    except MlstackError:
        raise
    except Exception as exc:
        if not is_transient(exc):
            raise WorkspaceError(f"{what} failed: {_reason(exc)}") from exc
        tries = retrying.statistics.get("attempt_number", retry.attempts)
        raise WorkspaceError(
            f"{what} failed after {tries} attempts: {_reason(exc)}. Check that the "
            "datastore is reachable and run again; files already stored are kept"
        ) from exc


def poll_until(
    check: Callable[[], T],
    done: Callable[[T], bool],
    policy: RetryPolicy = JOB_POLLS,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call ``check`` until ``done(result)``, waiting as ``policy`` says between calls.

    Exceptions from ``check`` (Ctrl-C included) end the polling and propagate; a policy
    with a limit that runs out raises ``tenacity.RetryError``.
    """
    retrying = tenacity.Retrying(
        stop=policy.stop(),
        wait=policy.wait(),
        retry=tenacity.retry_if_result(lambda result: not done(result)),
        sleep=sleep or _sleep,
    )
    return retrying(check)
