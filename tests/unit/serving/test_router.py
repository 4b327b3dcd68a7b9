"""The endpoint router: keys, bad requests, traffic split, pinning, mirroring, reloads."""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from mlstack.services.azurite import free_port

from .conftest import Deployment, Endpoint

ROWS = {"data": [[1, 2, 3]]}


def served_by(client: httpx.Client, endpoint: Endpoint, count: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(count):
        answer = client.post("/score", json=ROWS, headers=endpoint.auth())
        assert answer.status_code == 200, answer.text
        name = answer.headers["azureml-model-deployment"]
        assert answer.json()["model"] == name
        counts[name] += 1
    return counts


def test_keys_are_enforced(endpoint: Endpoint, client: httpx.Client) -> None:
    missing = client.post("/score", json=ROWS)
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["message"]
    wrong = client.post("/score", json=ROWS, headers=endpoint.auth("not-the-key"))
    assert wrong.status_code == 401
    assert "not valid" in wrong.json()["message"]
    basic = client.post("/score", json=ROWS, headers={"Authorization": endpoint.keys.primary})
    assert basic.status_code == 401
    digest = endpoint.keys.digests()[0]
    assert client.post("/score", json=ROWS, headers=endpoint.auth(digest)).status_code == 401
    for key in (endpoint.keys.primary, endpoint.keys.secondary):
        assert client.post("/score", json=ROWS, headers=endpoint.auth(key)).status_code == 200


def test_keys_never_reach_the_routes_file_or_the_log(
    endpoint: Endpoint, client: httpx.Client
) -> None:
    client.post("/score", json=ROWS, headers=endpoint.auth())
    client.post("/score", json=ROWS, headers=endpoint.auth("wrong-key-attempt"))
    for text in (endpoint.routes_file.read_text(), endpoint.process.log_file.read_text()):
        assert endpoint.keys.primary not in text
        assert endpoint.keys.secondary not in text
        assert "wrong-key-attempt" not in text


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "Expecting property name"),
        (b"", 400, "Expecting value"),
        (json.dumps({"data": [[1, 2]]}).encode(), 400, "rows of 3 numbers"),
        (json.dumps({"rows": []}).encode(), 400, "rows of 3 numbers"),
        (b"\xff", 400, "UTF-8"),
        (json.dumps({"data": [[1, 2, 3]], "crash": True}).encode(), 424, "crashed on purpose"),
    ],
)
def test_bad_requests_get_4xx_and_the_endpoint_keeps_serving(
    endpoint: Endpoint, client: httpx.Client, body: bytes, status: int, message: str
) -> None:
    answer = client.post("/score", content=body, headers=endpoint.auth())
    assert answer.status_code == status
    assert message in answer.json()["message"]
    assert answer.headers["azureml-model-deployment"] == "blue"
    assert client.post("/score", json=ROWS, headers=endpoint.auth()).status_code == 200


def test_wrong_method_and_path_are_json_4xx(endpoint: Endpoint, client: httpx.Client) -> None:
    for method, path, status in [("GET", "/score", 405), ("PUT", "/score", 405),
                                 ("POST", "/health", 405), ("GET", "/nowhere", 404)]:  # fmt: skip
        answer = client.request(method, path, headers=endpoint.auth())
        assert answer.status_code == status
        assert answer.json()["message"]
    assert client.post("/score", json=ROWS, headers=endpoint.auth()).status_code == 200


def test_oversized_bodies_get_413_declared_or_streamed(
    endpoint: Endpoint, client: httpx.Client
) -> None:
    big = json.dumps({"data": [[1, 2, 3]] * 1000}).encode()  # > 4096 bytes (the fixture's limit)
    declared = client.post("/score", content=big, headers=endpoint.auth())
    assert declared.status_code == 413
    assert "4096 bytes" in declared.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield big[:3000]
        yield big[3000:]

    streamed = client.post("/score", content=chunks(), headers=endpoint.auth())
    assert streamed.status_code == 413
    assert client.post("/score", json=ROWS, headers=endpoint.auth()).status_code == 200


def test_traffic_split_50_50(endpoint: Endpoint, client: httpx.Client) -> None:
    endpoint.set_routes({"blue": 50, "green": 50})
    counts = served_by(client, endpoint, 400)
    # Binomial(400, 0.5): sd 10, so 150-250 is a 5-sigma band.
    assert 150 <= counts["blue"] <= 250
    assert counts["blue"] + counts["green"] == 400


def test_header_pins_a_deployment_even_without_traffic(
    endpoint: Endpoint, client: httpx.Client
) -> None:
    endpoint.set_routes({"blue": 100, "green": 0})
    for _ in range(20):
        answer = client.post(
            "/score", json=ROWS, headers={**endpoint.auth(), "azureml-model-deployment": "green"}
        )
        assert answer.headers["azureml-model-deployment"] == "green"
        assert answer.json()["model"] == "green"
    unknown = client.post(
        "/score", json=ROWS, headers={**endpoint.auth(), "azureml-model-deployment": "red"}
    )
    assert unknown.status_code == 404
    assert "no deployment 'red'; deployments: blue, green" in unknown.json()["message"]


def test_no_traffic_anywhere_is_503(endpoint: Endpoint, client: httpx.Client) -> None:
    endpoint.set_routes({"blue": 0, "green": 0})
    answer = client.post("/score", json=ROWS, headers=endpoint.auth())
    assert answer.status_code == 503
    assert "no deployment takes traffic" in answer.json()["message"]


def test_mirror_traffic_reaches_the_mirror_and_is_not_answered_from_it(
    endpoint: Endpoint, client: httpx.Client, green: Deployment
) -> None:
    endpoint.set_routes({"blue": 100, "green": 0}, mirror={"green": 50})
    before = green.calls()
    assert served_by(client, endpoint, 200) == {"blue": 200}
    deadline = time.monotonic() + 10
    mirrored = green.calls() - before
    while time.monotonic() < deadline:  # fire-and-forget: copies may still be in flight
        time.sleep(0.2)
        now = green.calls() - before
        if now == mirrored:
            break
        mirrored = now
    assert 60 <= mirrored <= 140  # Binomial(200, 0.5): sd ~7


def test_a_route_change_applies_to_the_next_request(
    endpoint: Endpoint, client: httpx.Client
) -> None:
    assert served_by(client, endpoint, 5) == {"blue": 5}
    endpoint.set_routes({"blue": 0, "green": 100})
    assert served_by(client, endpoint, 50) == {"green": 50}
    endpoint.set_routes({"blue": 100})
    assert served_by(client, endpoint, 50) == {"blue": 50}


def test_a_deployment_that_is_down_is_retried_elsewhere_or_reported_502(
    endpoint: Endpoint, client: httpx.Client
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    deployments = {**endpoint.deployments, "dead": dead}
    endpoint.set_routes({"dead": 50, "blue": 50}, deployments=deployments)
    assert served_by(client, endpoint, 40) == {"blue": 40}
    pinned = client.post(
        "/score", json=ROWS, headers={**endpoint.auth(), "azureml-model-deployment": "dead"}
    )
    assert pinned.status_code == 502
    assert "deployment dead of endpoint digits could not be reached" in pinned.json()["message"]
    endpoint.set_routes({"dead": 100}, deployments=deployments)
    assert client.post("/score", json=ROWS, headers=endpoint.auth()).status_code == 502
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    assert health["deployments"]["dead"]["healthy"] is False
    assert health["deployments"]["blue"] == {"healthy": True, "traffic": 0, "mirror_traffic": 0}


def test_health_lists_deployments(endpoint: Endpoint, client: httpx.Client) -> None:
    endpoint.set_routes({"blue": 90, "green": 10}, mirror={"green": 5})
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {
        "endpoint": "digits",
        "status": "healthy",
        "deployments": {
            "blue": {"healthy": True, "traffic": 90, "mirror_traffic": 0},
            "green": {"healthy": True, "traffic": 10, "mirror_traffic": 5},
        },
    }


def test_an_invalid_rewrite_keeps_the_previous_routes(
    endpoint: Endpoint, client: httpx.Client
) -> None:
    endpoint.set_routes({"green": 100})
    assert served_by(client, endpoint, 1) == {"green": 1}
    tmp = endpoint.routes_file.with_name("broken.json")
    tmp.write_text("{ half a table")
    tmp.replace(endpoint.routes_file)
    assert served_by(client, endpoint, 5) == {"green": 5}


def nested(depth: int) -> bytes:
    """``{"data": [[...[1, 2, 3]...]]}`` with ``depth`` levels in all (the object is one)."""
    return b'{"data": ' + b"[" * (depth - 1) + b"1, 2, 3" + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("depth", [65, 5000])
def test_json_nested_too_deep_is_400_before_any_deployment_sees_it(
    endpoint: Endpoint, client: httpx.Client, blue: Deployment, depth: int
) -> None:
    endpoint.set_routes({"blue": 100}, max_body_bytes=1 << 20)
    before = blue.calls()
    answer = client.post("/score", content=nested(depth), headers=endpoint.auth())
    assert answer.status_code == 400, answer.text
    assert "nests deeper than 64 levels" in answer.json()["message"]
    assert blue.calls() == before
    assert "RecursionError" not in blue.process.log_file.read_text()
    assert client.post("/score", json=ROWS, headers=endpoint.auth()).status_code == 200


def test_json_nested_up_to_the_bound_reaches_the_scoring_script(
    endpoint: Endpoint, client: httpx.Client
) -> None:
    answer = client.post("/score", content=nested(64), headers=endpoint.auth())
    assert answer.status_code == 400
    assert "rows of 3 numbers" in answer.json()["message"]  # the stub's own answer
    assert answer.headers["azureml-model-deployment"] == "blue"


def post_closing(url: str, key: str, body: bytes, chunked: bool) -> tuple[int, str]:
    """POST with the standard library, as ``requests`` would: the whole body first, then
    the answer, on a connection the client asks to close (``Connection: close``)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
        if chunked:
            pieces = (body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20))
            connection.request("POST", "/score", pieces, headers, encode_chunked=True)
        else:
            connection.request("POST", "/score", body, headers)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_body_far_over_the_limit_gets_its_413_delivered(
    endpoint: Endpoint, client: httpx.Client, chunked: bool
) -> None:
    """7.8 MB against a 4 KiB limit, from a client that sends it all before reading: the
    router reads and discards the rest before answering, so the client reads the 413
    instead of a reset connection."""
    big = b'{"data": [' + b"[1, 2, 3], " * 710_000 + b"[1, 2, 3]]}"
    assert len(big) > 7_800_000
    status, text = post_closing(endpoint.url, endpoint.keys.primary, big, chunked)
    assert status == 413
    assert "4096 bytes" in text
    assert client.post("/score", json=ROWS, headers=endpoint.auth()).status_code == 200
