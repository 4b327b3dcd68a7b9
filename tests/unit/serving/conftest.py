"""Real serving processes on loopback, with a stub entry script that needs no torch.

The stub's ``run`` returns the row sums of ``{"data": [[a, b, c], ...]}`` with the
deployment's name, raises ValueError on any other shape, RuntimeError when asked to
(``"crash": true``), and appends one line per call to ``<model_dir>/calls.log`` so a
test can count what each deployment received (mirror traffic included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mlstack.services.azurite import free_port
from mlstack.serving import EndpointKeys, Routes, ServerProcess, start_deployment, start_router
from mlstack.serving.process import stop

STUB = """
import json
import os
from pathlib import Path

_model_dir = None


def init():
    global _model_dir
    _model_dir = Path(os.environ["AZUREML_MODEL_DIR"])
    if (_model_dir / "fail_init").exists():
        raise RuntimeError("init failed on purpose")


def run(raw_data):
    request = json.loads(raw_data)  # JSONDecodeError is a ValueError
    rows = request.get("data") if isinstance(request, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 3 for r in rows):
        raise ValueError("data must be a list of rows of 3 numbers")
    if request.get("crash"):
        raise RuntimeError("crashed on purpose")
    fd = os.open(_model_dir / "calls.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, b"x\\n")
    finally:
        os.close(fd)
    return {"sums": [sum(r) for r in rows], "model": (_model_dir / "name.txt").read_text()}
"""


@dataclass
class Deployment:
    name: str
    process: ServerProcess
    model_dir: Path

    @property
    def url(self) -> str:
        return self.process.url

    def calls(self) -> int:
        try:
            return len((self.model_dir / "calls.log").read_text().splitlines())
        except FileNotFoundError:
            return 0


@pytest.fixture(scope="session")
def serving_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving")


@pytest.fixture(scope="session")
def stub_code(serving_dir: Path) -> Path:
    code = serving_dir / "code"
    code.mkdir()
    (code / "score.py").write_text(STUB)
    return code


def make_model_dir(root: Path, name: str) -> Path:
    folder = root / f"model-{name}"
    folder.mkdir()
    (folder / "name.txt").write_text(name)
    return folder


@pytest.fixture(scope="session")
def start_stub(serving_dir: Path, stub_code: Path) -> Iterator[Callable[[str], Deployment]]:
    """A factory that starts stub deployments; all still running are stopped at the end."""
    started: list[Deployment] = []

    def start(name: str) -> Deployment:
        model_dir = make_model_dir(serving_dir, name)
        process = start_deployment(
            serving_dir / "run", name, code=stub_code, scoring_script="score.py",
            model_dir=model_dir, timeout_s=60,
        )  # fmt: skip
        deployment = Deployment(name, process, model_dir)
        started.append(deployment)
        return deployment

    yield start
    for deployment in started:
        stop(deployment.process.pid)


@pytest.fixture(scope="session")
def keys() -> EndpointKeys:
    return EndpointKeys.generate()


@dataclass
class Endpoint:
    """The session's router, and a way to rewrite its routes as the provider would."""

    process: ServerProcess
    routes_file: Path
    keys: EndpointKeys
    deployments: dict[str, str]

    @property
    def url(self) -> str:
        return self.process.url

    def set_routes(
        self,
        traffic: dict[str, int],
        mirror: dict[str, int] | None = None,
        deployments: dict[str, str] | None = None,
        max_body_bytes: int = 4096,
    ) -> None:
        Routes(
            endpoint="digits",
            keys_sha256=self.keys.digests(),
            deployments=dict(deployments if deployments is not None else self.deployments),
            traffic=traffic,
            mirror_traffic=mirror or {},
            max_body_bytes=max_body_bytes,
        ).write(self.routes_file)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.keys.primary}"}


@pytest.fixture(scope="session")
def blue(start_stub: Callable[[str], Deployment]) -> Deployment:
    return start_stub("blue")


@pytest.fixture(scope="session")
def green(start_stub: Callable[[str], Deployment]) -> Deployment:
    return start_stub("green")


@pytest.fixture(scope="session")
def session_endpoint(
    serving_dir: Path, keys: EndpointKeys, blue: Deployment, green: Deployment
) -> Iterator[Endpoint]:
    routes_file = serving_dir / "routes.json"
    deployments = {"blue": blue.url, "green": green.url}
    Routes("digits", keys.digests(), deployments, {"blue": 100}).write(routes_file)
    process = start_router(
        serving_dir / "run", "router", routes=routes_file, port=free_port(), timeout_s=60
    )
    endpoint = Endpoint(process, routes_file, keys, deployments)
    yield endpoint
    stop(endpoint.process.pid)


@pytest.fixture
def endpoint(session_endpoint: Endpoint) -> Endpoint:
    """The shared router, reset to 100% blue with no mirror before each test."""
    session_endpoint.set_routes({"blue": 100})
    return session_endpoint


@pytest.fixture
def client(session_endpoint: Endpoint) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=session_endpoint.url, trust_env=False, timeout=30) as c:
        yield c
