"""The real training/score.py behind a deployment server and the router."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from mlstack.services.azurite import free_port
from mlstack.serving import EndpointKeys, Routes, start_deployment, start_router, stop

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A linear 784→10 model exported as score.py loads it (torch.export, model.pt2)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
    folder = tmp_path_factory.mktemp("tiny-model")
    example = (torch.zeros(2, 1, 28, 28),)
    batch = torch.export.Dim("batch", min=1, max=10_000)
    program = torch.export.export(model, example, dynamic_shapes=({0: batch},))
    torch.export.save(program, folder / "model.pt2")
    return folder


@pytest.fixture(scope="module")
def endpoint(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[tuple[str, EndpointKeys]]:
    run = tmp_path_factory.mktemp("real-score")
    deployment = start_deployment(
        run, "blue", code=REPO / "training", scoring_script="score.py", model_dir=tiny_model,
        timeout_s=180,
    )  # fmt: skip
    keys = EndpointKeys.generate()
    routes = run / "routes.json"
    Routes("digits", keys.digests(), {"blue": deployment.url}, {"blue": 100}).write(routes)
    router = start_router(run, "router", routes=routes, port=free_port())
    yield router.url, keys
    stop(router.pid)
    stop(deployment.pid)


def test_real_entry_script_scores_and_rejects_bad_shapes(
    endpoint: tuple[str, EndpointKeys], tiny_model: Path
) -> None:
    url, keys = endpoint
    images = [
        [[(r * 28 + c + 37 * i) % 256 for c in range(28)] for r in range(28)] for i in range(3)
    ]
    model = torch.export.load(tiny_model / "model.pt2").module()
    with torch.no_grad():
        expected = torch.softmax(model(torch.tensor(images, dtype=torch.float32).unsqueeze(1)), 1)
    auth = {"Authorization": f"Bearer {keys.primary}"}
    with httpx.Client(base_url=url, trust_env=False, timeout=60) as client:
        answer = client.post("/score", json={"input_data": images}, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.headers["azureml-model-deployment"] == "blue"
        body = answer.json()
        assert body["predictions"] == expected.argmax(1).tolist()
        assert torch.allclose(torch.tensor(body["probabilities"]), expected, atol=1e-5)
        wrong = client.post("/score", json={"data": [[1, 2, 3]]}, headers=auth)
        assert wrong.status_code == 400
        assert "28x28" in wrong.json()["message"]
        malformed = client.post("/score", content=b"[[", headers=auth)
        assert malformed.status_code == 400
        assert "not valid JSON" in malformed.json()["message"]
        assert client.post("/score", json={"data": images}, headers=auth).status_code == 200
