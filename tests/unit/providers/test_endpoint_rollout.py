"""The LocalEndpoint provider's ``update`` with real servers: traffic moves only to a
deployment that answers, and one that cannot start leaves traffic where it was.

Real router, real deployment servers (the stub entry script of tests/unit/serving, no
torch) and the real routes file; only where a registered model's files come from is
replaced (``_model_dir``, the workspace download), by folders made here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from mlstack.config.locator import LocalLocator
from mlstack.config.resources import DeploymentInputs, EndpointInputs
from mlstack.errors import ServiceError
from mlstack.project import HOME_ENV
from mlstack.providers import endpoint as provider_module
from mlstack.providers.endpoint import LocalEndpointProvider, endpoint_folder, observed_health
from mlstack.serving import Routes, is_alive, stop
from tests.unit.serving.conftest import STUB, make_model_dir

STACK = "rollout-unit"
MODELS = ("v1", "v2", "broken")
DIGESTS = {name: "sha256:" + f"{i:x}" * 64 for i, name in enumerate(MODELS, start=1)}
BODY = {"data": [[1, 2, 3]]}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own, and model folders standing in for registered versions."""
    home = tmp_path / "home"
    monkeypatch.setenv(HOME_ENV, str(home))
    folders = {DIGESTS[name]: make_model_dir(tmp_path, name) for name in MODELS}
    (folders[DIGESTS["broken"]] / "fail_init").write_text("init() raises")

    def model_dir(_ws: Any, _home: Path, _name: str, digest: str) -> Path:
        return folders[digest]

    monkeypatch.setattr(provider_module, "_model_dir", model_dir)
    return home


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "score.py").write_text(STUB)
    return folder


def _props(code: Path, **models: str) -> dict[str, Any]:
    """The endpoint's inputs, each deployment serving the model named for it."""
    deployments = {
        dep: DeploymentInputs(model="digits-cnn", model_digest=DIGESTS[model], code=str(code),
                              code_digest="sha256:" + "c" * 64, scoring_script="score.py")
        for dep, model in models.items()
    }  # fmt: skip
    inputs = EndpointInputs(
        workspace=LocalLocator(stack=STACK, container=f"mlstack-{STACK}"), name="digits",
        traffic={"blue": 100}, deployments=deployments, health="running",
    )  # fmt: skip
    return inputs.to_props()


def _serves(outs: dict[str, Any]) -> str:
    """The model the endpoint's traffic reaches, as the stub reports it."""
    auth = {"Authorization": f"Bearer {outs['primary_key']}"}
    answer = httpx.post(outs["scoring_uri"], json=BODY, headers=auth, trust_env=False, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["model"])


def _servers(folder: Path, name: str | None = None) -> list[psutil.Process]:
    """Live servers (named ``name``, if given) whose files are in ``folder``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] == psutil.STATUS_ZOMBIE or (name and name not in cmdline):
            continue
        if any(str(folder) in part for part in cmdline):
            found.append(process)
    return found


@pytest.fixture
def endpoint(home: Path, code: Path) -> Iterator[dict[str, Any]]:
    """A created endpoint: blue (all traffic) and green, both serving v1. Every server
    started in its folder is stopped afterwards, whatever the test left running."""
    outs = LocalEndpointProvider().create(_props(code, blue="v1", green="v1")).outs
    yield outs
    for process in _servers(endpoint_folder(home, STACK, "digits")):
        stop(process.pid)


def test_traffic_moves_only_to_a_deployment_that_answers(
    endpoint: dict[str, Any], home: Path, code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = LocalEndpointProvider()
    folder = endpoint_folder(home, STACK, "digits")
    assert _serves(endpoint) == "v1"

    # Each time the routes change, every deployment they name already answers /ready.
    ready_when_routed: list[dict[str, int]] = []
    write = Routes.write

    def spying_write(routes: Routes, path: Path) -> None:
        ready_when_routed.append({
            dep: httpx.get(f"{url}/ready", trust_env=False, timeout=5).status_code
            for dep, url in routes.deployments.items()
        })  # fmt: skip
        write(routes, path)

    monkeypatch.setattr(Routes, "write", spying_write)
    new = {**_props(code, blue="v2", green="v1"), **{k: endpoint[k] for k in ("primary_key",
           "secondary_key", "port", "router_pid")}}  # fmt: skip
    outs = provider.update("id", {**endpoint}, new).outs
    assert ready_when_routed == [{"blue": 200, "green": 200}]
    assert _serves(outs) == "v2"
    old_blue = int(endpoint["running"]["blue"]["pid"])
    assert not is_alive(old_blue) and not (folder / "blue-1.pid").exists()
    assert outs["running"]["green"]["pid"] == endpoint["running"]["green"]["pid"]  # untouched

    # Back to v1 for blue, while green's new model cannot start: the update fails before the
    # routes change, the blue server it had started is stopped, and v2 keeps serving.
    failing = {**new, **_props(code, blue="v1", green="broken")}
    with pytest.raises(ServiceError, match="exited while starting"):
        provider.update("id", {**endpoint, **outs}, failing)
    assert len(ready_when_routed) == 1  # no routes written
    assert _serves(outs) == "v2"
    assert all(is_alive(int(state["pid"])) for state in outs["running"].values())
    assert _servers(folder, "blue-3") == [] and _servers(folder, "green-2") == []
    assert sorted(p.name for p in folder.glob("*.pid")) == ["blue-2.pid", "green-1.pid",
                                                           "router.pid"]  # fmt: skip
    assert observed_health(home, STACK, "digits") == "running"
