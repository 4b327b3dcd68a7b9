"""A local online endpoint through the real engine: keys, bad input, blue/green with no loss."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlstack.project import Project
from tests.integration.conftest import Pulumi, add_data
from tests.integration.test_models import _set_gate, _train

pytestmark = pytest.mark.integration

HEADER = "azureml-model-deployment"


def _endpoint(cli: Pulumi) -> dict[str, Any]:
    out = cli.run("stack", "output", "endpoints", "--show-secrets", "--json", "--stack", cli.stack)
    return dict(json.loads(out.stdout)["digits"])


def _set_traffic(cli: Pulumi, traffic: dict[str, int]) -> None:
    spec = cli.cwd / "assets" / "endpoints" / "digits.yaml"
    text = spec.read_text().split("traffic:")[0]
    lines = "".join(f"  {name}: {weight}\n" for name, weight in traffic.items())
    spec.write_text(f"{text}traffic:\n{lines}")


@contextmanager
def load(url: str, key: str, body: dict[str, Any]) -> Iterator[Counter[str]]:
    """A client sending requests back to back until the block ends; counts outcomes."""
    seen: Counter[str] = Counter()
    done = threading.Event()

    def loop() -> None:
        with httpx.Client(timeout=30) as client:
            while not done.is_set():
                try:
                    r = client.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
                    seen[
                        r.headers.get(HEADER, "?")
                        if r.status_code == 200
                        else f"HTTP {r.status_code}"
                    ] += 1
                except httpx.HTTPError as error:
                    seen[f"error {type(error).__name__}"] += 1

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join()


def test_blue_green_rollout_keys_and_bad_requests(
    pulumi: Pulumi, project: Project, digits: Path
) -> None:
    add_data(pulumi, project, digits)
    for folder in ("environments", "models", "endpoints"):
        shutil.copytree(project.root / "assets" / folder, pulumi.cwd / "assets" / folder)
    shutil.copytree(project.root / "training", pulumi.cwd / "training")
    _set_gate(pulumi, 0.5)
    pulumi.run("up", "--yes")
    _train(pulumi, project, seed=1)
    pulumi.run("up", "--yes")  # model version 1, and endpoint digits with deployment blue
    endpoint = _endpoint(pulumi)
    url, key = endpoint["scoring_uri"], endpoint["primary_key"]
    body = json.loads((project.root / "assets/endpoints/sample-request.json").read_text())
    auth = {"Authorization": f"Bearer {key}"}

    # Keys are required; either key works; the answer is a prediction per image.
    ok = httpx.post(url, json=body, headers=auth, timeout=30)
    assert ok.status_code == 200 and ok.headers[HEADER] == "blue"
    assert len(ok.json()["predictions"]) == len(body["data"])
    second = {"Authorization": f"Bearer {endpoint['secondary_key']}"}
    assert httpx.post(url, json=body, headers=second, timeout=30).status_code == 200
    assert httpx.post(url, json=body, timeout=30).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401

    # Bad requests are 4xx with a message, and the endpoint keeps answering.
    assert httpx.post(url, content=b"{not json", headers=auth).status_code == 400
    wrong_shape = httpx.post(url, json={"data": [[1, 2, 3]]}, headers=auth)
    assert wrong_shape.status_code == 400 and wrong_shape.text
    huge = httpx.post(url, content=b"x" * (2 << 20), headers=auth)
    assert huge.status_code == 413
    assert httpx.post(url, json=body, headers=auth).status_code == 200
    assert key not in pulumi.run("stack", "output", "--json", "--stack", pulumi.stack).stdout

    endpoints = pulumi.cwd / "assets" / "endpoints"
    blue = (endpoints / "digits-blue.yaml").read_text()
    with load(url, key, body) as during:
        # Add green with half the traffic; the review shows the split changing.
        (endpoints / "digits-green.yaml").write_text(blue.replace("name: blue", "name: green"))
        _set_traffic(pulumi, {"blue": 50, "green": 50})
        [step] = [s for s in pulumi.preview_steps() if s["urn"].endswith("::endpoint-digits")]
        assert step["newState"]["inputs"]["traffic"] == {"blue": 50, "green": 50}
        review = subprocess.run(
            [str(project.root / ".venv/bin/mlstack"), "review", "-s", pulumi.stack],
            cwd=pulumi.cwd, env=pulumi.env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        [row] = [x for x in review.splitlines() if x.startswith("| `digits` |")]
        assert "blue 100%" in row and "blue 50% · green 50%" in row
        pulumi.run("up", "--yes")
        split = Counter(
            httpx.post(url, json=body, headers=auth, timeout=30).headers.get(HEADER)
            for _ in range(400)
        )
        assert set(split) == {"blue", "green"}
        assert 150 <= split["green"] <= 250, split  # binomial(400, 0.5): 5+ sigma either way

        # All traffic to green, then blue removed.
        _set_traffic(pulumi, {"blue": 0, "green": 100})
        pulumi.run("up", "--yes")
        (endpoints / "digits-blue.yaml").unlink()
        _set_traffic(pulumi, {"green": 100})
        pulumi.run("up", "--yes")
    failures = {k: v for k, v in during.items() if k not in ("blue", "green")}
    assert failures == {}, during
    assert during["blue"] > 0 and during["green"] > 0
    after = httpx.post(url, json=body, headers=auth, timeout=30)
    assert after.status_code == 200 and after.headers[HEADER] == "green"
    pulumi.run("preview", "--expect-no-changes")
