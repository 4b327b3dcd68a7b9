"""Blue/green rollout under load: start green, move traffic, stop blue — nothing fails."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from mlstack.serving import stop

from .conftest import Deployment, Endpoint

MAX_REQUESTS = 3000
MAX_SECONDS = 20.0


def test_zero_downtime_rollout(
    start_stub: Callable[[str], Deployment], session_endpoint: Endpoint
) -> None:
    endpoint = session_endpoint
    old = start_stub("rollout-blue")
    endpoint.set_routes({old.name: 100}, deployments={old.name: old.url})
    served: Counter[str] = Counter()
    failures: list[str] = []
    done = threading.Event()

    def hammer() -> None:
        deadline = time.monotonic() + MAX_SECONDS
        with httpx.Client(base_url=endpoint.url, trust_env=False, timeout=10) as client:
            for _ in range(MAX_REQUESTS):
                if done.is_set() or time.monotonic() > deadline:
                    return
                try:
                    answer = client.post(
                        "/score", json={"data": [[1, 2, 3]]}, headers=endpoint.auth()
                    )
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                if answer.status_code == 200 and answer.json()["sums"] == [6]:
                    served[answer.headers["azureml-model-deployment"]] += 1
                else:
                    failures.append(f"{answer.status_code} {answer.text}")

    def served_total() -> int:
        return sum(served.values())

    def wait_for_requests(count: int) -> None:
        target = served_total() + count
        deadline = time.monotonic() + 10
        while served_total() < target and time.monotonic() < deadline and not failures:
            time.sleep(0.01)

    client_thread = threading.Thread(target=hammer)
    client_thread.start()
    try:
        wait_for_requests(20)
        new = start_stub("rollout-green")  # started and ready while blue takes all traffic
        both = {old.name: old.url, new.name: new.url}
        endpoint.set_routes({old.name: 50, new.name: 50}, deployments=both)
        wait_for_requests(20)
        endpoint.set_routes({old.name: 0, new.name: 100}, deployments=both)
        assert stop(old.process.pid)  # requests still on their way to blue finish or retry
        endpoint.set_routes({new.name: 100}, deployments={new.name: new.url})
        wait_for_requests(50)
    finally:
        done.set()
        client_thread.join(timeout=30)
    assert failures == []
    assert sum(served.values()) >= 90  # the load really ran through every step
    assert served[old.name] > 0
    assert served[new.name] > 0


def test_stopping_the_live_deployment_first_still_fails_nothing(
    start_stub: Callable[[str], Deployment], session_endpoint: Endpoint
) -> None:
    """Even in the wrong order (stop, then move traffic) the retry catches every request."""
    endpoint = session_endpoint
    old, new = start_stub("abrupt-blue"), start_stub("abrupt-green")
    both = {old.name: old.url, new.name: new.url}
    endpoint.set_routes({old.name: 90, new.name: 10}, deployments=both)
    assert stop(old.process.pid)
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=endpoint.url, trust_env=False, timeout=10) as client:
        for _ in range(50):
            answer = client.post("/score", json={"data": [[1, 2, 3]]}, headers=endpoint.auth())
            statuses[answer.status_code] += 1
            assert answer.headers["azureml-model-deployment"] == new.name
    assert statuses == {200: 50}
