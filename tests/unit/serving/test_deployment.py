"""The deployment server: an entry script behind /score, /health and /ready."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from mlstack.errors import ServiceError
from mlstack.serving import start_deployment

from .conftest import Deployment, make_model_dir


def test_serves_run_and_answers_health_and_ready(blue: Deployment) -> None:
    with httpx.Client(base_url=blue.url, trust_env=False) as client:
        assert client.get("/health").json() == {"status": "alive", "deployment": "blue"}
        assert client.get("/ready").json() == {"status": "ready", "deployment": "blue"}
        answer = client.post("/score", json={"data": [[1, 2, 3], [4, 5, 6]]})
    assert answer.status_code == 200
    assert answer.json() == {"sums": [6, 15], "model": "blue"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "Expecting property name"),
        (b"", 400, "Expecting value"),
        (json.dumps({"data": [[1, 2]]}).encode(), 400, "rows of 3 numbers"),
        (b"\xff\xfe", 400, "UTF-8"),
        (json.dumps({"data": [[1, 2, 3]], "crash": True}).encode(), 500, "crashed on purpose"),
    ],
)
def test_bad_requests_get_a_message_and_the_server_keeps_serving(
    blue: Deployment, body: bytes, status: int, message: str
) -> None:
    with httpx.Client(base_url=blue.url, trust_env=False) as client:
        answer = client.post("/score", content=body)
        assert answer.status_code == status
        assert message in answer.json()["message"]
        assert client.post("/score", json={"data": [[1, 1, 1]]}).json()["sums"] == [3]
        assert client.get("/score").status_code == 405


@pytest.mark.parametrize("depth", [65, 5000])
def test_json_nested_too_deep_is_400_before_run(blue: Deployment, depth: int) -> None:
    body = b"[" * depth + b"]" * depth
    with httpx.Client(base_url=blue.url, trust_env=False) as client:
        answer = client.post("/score", content=body)
        assert answer.status_code == 400
        assert "nests deeper than 64 levels" in answer.json()["message"]
        assert client.post("/score", json={"data": [[1, 1, 1]]}).json()["sums"] == [3]


def test_a_failing_init_stops_the_start_with_the_log_tail(
    serving_dir: Path, stub_code: Path
) -> None:
    model_dir = make_model_dir(serving_dir, "broken")
    (model_dir / "fail_init").touch()
    with pytest.raises(ServiceError, match="exited while starting") as caught:
        start_deployment(
            serving_dir / "run", "broken", code=stub_code, scoring_script="score.py",
            model_dir=model_dir, timeout_s=60,
        )  # fmt: skip
    assert "init failed on purpose" in str(caught.value)


def test_a_missing_script_is_reported(serving_dir: Path, stub_code: Path) -> None:
    with pytest.raises(ServiceError) as caught:
        start_deployment(
            serving_dir / "run", "missing", code=stub_code, scoring_script="nope.py",
            model_dir=serving_dir, timeout_s=60,
        )  # fmt: skip
    assert "no scoring script at" in str(caught.value)


def test_port_zero_is_recorded(start_stub: Callable[[str], Deployment]) -> None:
    deployment = start_stub("portzero")
    recorded = json.loads(deployment.process.log_file.with_suffix(".port").read_text())
    assert recorded == {"pid": deployment.process.pid, "port": deployment.process.port}
    assert f"listening on http://127.0.0.1:{deployment.process.port}" in (
        deployment.process.log_file.read_text()
    )
