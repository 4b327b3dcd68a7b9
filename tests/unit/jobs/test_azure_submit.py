"""Contract tests of ``mlstack job run`` on an ``azure`` stack, with canned ARM replies.

The real CLI runs: the stack file is read and validated, ``connect_workspace`` opens the
workspace its locator names (``open_service`` → :meth:`AzureMLWorkspace.at`), the job YAML
is pinned through the workspace's registries and ``MLClient.jobs`` submits and polls it.
Requests go into the recording adapter of tests/unit/workspace/test_azure_contract.py;
only the credential, the transport and the sleep between polls are swapped in. No blob
I/O: the code snapshot already exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import yaml
from typer.testing import CliRunner

from mlstack.cli import app
from mlstack.config.azure import AzureSettings
from mlstack.errors import ConfigError, WorkspaceError
from mlstack.jobs import submit
from mlstack.jobs.azure import submission_body
from mlstack.jobs.record import JobStore
from mlstack.jobs.spec import load_spec
from mlstack.project import HOME_ENV
from tests.unit.workspace.test_azure_contract import (
    CREATED,
    SETTINGS,
    WS,
    Call,
    CannedArm,
    Key,
    Reply,
    data_version,
    keys,
    route_clients,
)

REPO = Path(__file__).resolve().parents[3]
TRAIN = REPO / "assets/jobs/train.yaml"
STACK, JOB = "azdev", "train_0123456789"
ASSETS_API, CODES_API = "2023-04-01-preview", "2023-04-01"
JOBS_PUT_API, JOBS_GET_API = "2025-01-01-preview", "2024-01-01-preview"
VERSIONS = {"digits-train": "7", "digits-val": "5", "digits-test": "4"}
API_HOST = "westeurope.api.azureml.ms"  # run history, found through workspace discovery


class JobsArm(CannedArm):
    """The canned ARM service, plus the run-history host (recorded under ``/@api``), and
    azure-ai-ml's random name of an anonymous code asset recorded as ``ANON``."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = str(request.url).replace(f"https://{API_HOST}/", "https://management.azure.com/@api/")
        request.url = re.sub(r"/codes/[0-9a-f-]{36}/", "/codes/ANON/", url)
        return super().send(request, **kwargs)


def _stack_file(settings: AzureSettings) -> str:
    azure = settings.model_dump(by_alias=True, exclude_defaults=True)
    return yaml.safe_dump({"config": {"mlstack:target": "azure", "mlstack:azure": azure}})


def _data(arm: CannedArm) -> None:
    """Each split has an older version 1 and the latest one of ``VERSIONS``."""
    for name, version in VERSIONS.items():
        uri = f"azureml://datastores/mlstack/paths/LocalUpload/{{}}/{name}/"
        digest = {"mlstack.digest": f"sha256:{name}-{version}"}
        arm.table[("GET", f"/data/{name}", None)] = (200, {
            "id": f"{WS}/data/{name}", "name": name, "systemData": CREATED,
            "properties": {"latestVersion": version, "dataType": "uri_folder"},
        })  # fmt: skip
        arm.table[("GET", f"/data/{name}/versions/{version}", None)] = (
            200, data_version(name, version, uri.format(version), **digest),
        )  # fmt: skip
        arm.table[("GET", f"/data/{name}/versions", "ArchivedOnly")] = (200, {"value": []})


def _environment(arm: CannedArm) -> None:
    env = {
        "id": f"{WS}/environments/digits-env/versions/3", "name": "3", "systemData": CREATED,
        "properties": {"image": "python:3.11-slim", "isArchived": False, "isAnonymous": False,
                       "properties": {"mlstack.digest": "sha256:digits-env-3"}},
    }  # fmt: skip
    arm.table[("GET", "/environments/digits-env/versions", None)] = (200, {"value": [env]})
    arm.table[("GET", "/environments/digits-env/versions", "ArchivedOnly")] = (200, {"value": []})


def _code(arm: CannedArm) -> None:
    """The service already holds a snapshot with the code folder's hash: no upload."""
    code = {
        "id": f"{WS}/codes/ANON/versions/1", "name": "1", "systemData": CREATED,
        "properties": {"codeUri": "https://acct.blob.core.windows.net/c/LocalUpload/h/training",
                       "isAnonymous": True, "properties": {}},
    }  # fmt: skip
    arm.table[("GET", "/codes/ANON/versions", None)] = (200, {"value": [code]})
    arm.table[("GET", "/codes/ANON/versions/1", None)] = (200, code)


def _job(status: str, put: Call) -> dict[str, Any]:
    return {"id": WS + put.path, "name": JOB, "systemData": CREATED,
            "properties": {**put.body["properties"], "status": status}}  # fmt: skip


def _statuses(arm: CannedArm, *statuses: str) -> None:
    """PUT answers the first status; each ``GET jobs/<id>`` the next one."""
    queue = list(statuses)
    arm.table[("PUT", f"/jobs/{JOB}", None)] = lambda call: (201, _job(queue.pop(0), call))

    def get(call: Call) -> Reply:
        put = next(c for c in arm.calls if c.method == "PUT")
        return 200, _job(queue.pop(0) if len(queue) > 1 else queue[0], put)

    arm.table[("GET", f"/jobs/{JOB}", None)] = get


@pytest.fixture
def arm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobsArm]:
    """A project whose stack ``azdev`` targets Azure; its workspace answers from ``arm``."""
    (tmp_path / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / f"Pulumi.{STACK}.yaml").write_text(_stack_file(SETTINGS))
    monkeypatch.setenv(HOME_ENV, str(tmp_path / ".mlstack"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(submit, "new_job_id", lambda spec: JOB)
    canned = JobsArm()
    opened = route_clients(monkeypatch, canned)
    _data(canned)
    _environment(canned)
    _code(canned)
    yield canned
    assert opened in ([], [SETTINGS.locator])  # the stack file's workspace, as validated


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses between polls, recorded instead of slept."""
    pauses: list[float] = []
    monkeypatch.setattr(submit, "time", SimpleNamespace(sleep=pauses.append))
    return pauses


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["job", "run", str(TRAIN), "-s", STACK, *args])


PINNING: list[Key] = [
    ("GET", "/data/digits-train", None),  # latest label: the container's latestVersion
    ("GET", "/data/digits-train/versions/7", None),
    ("GET", "/data/digits-train/versions", "ArchivedOnly"),  # not archived: usable
    ("GET", "/data/digits-val", None),
    ("GET", "/data/digits-val/versions/5", None),
    ("GET", "/data/digits-val/versions", "ArchivedOnly"),
    ("GET", "/data/digits-test", None),
    ("GET", "/data/digits-test/versions/4", None),
    ("GET", "/data/digits-test/versions", "ArchivedOnly"),
    ("GET", "/environments/digits-env/versions", None),  # newest created
    ("GET", "/environments/digits-env/versions", "ArchivedOnly"),
    ("GET", "/codes/ANON/versions", None),  # snapshot look-up by content hash
    ("GET", "/codes/ANON/versions/1", None),
    ("PUT", f"/jobs/{JOB}", None),
]


def test_a_job_is_submitted_pinned_and_watched_to_completion(
    arm: JobsArm, slept: list[float]
) -> None:
    _statuses(arm, "Starting", "Queued", "Running", "Running", "Completed")

    result = run()

    assert result.exit_code == 0, result.output
    calls = arm.take()
    assert keys(calls) == [*PINNING, *[("GET", f"/jobs/{JOB}", None)] * 4]
    env_q = calls[9].query
    assert env_q == {"api-version": ASSETS_API, "$orderBy": "createdtime desc", "$top": "1"}
    assert calls[11].query["api-version"] == CODES_API and "hash" in calls[11].query
    assert calls[13].query == {"api-version": JOBS_PUT_API}
    assert {c.query["api-version"] for c in calls[14:]} == {JOBS_GET_API}

    props = calls[13].body["properties"]
    for key, version in (("train", "7"), ("val", "5"), ("test", "4")):
        assert props["inputs"][key] == {
            "uri": f"{WS}/data/digits-{key}/versions/{version}",  # azureml:digits-<key>:<v>
            "mode": "ReadOnlyMount", "jobInputType": "uri_folder",
        }  # fmt: skip
    assert props["inputs"]["epochs"] == {"value": "8", "jobInputType": "literal"}
    assert props["environmentId"] == f"{WS}/environments/digits-env/versions/3"
    assert props["computeId"] == f"{WS}/computes/cpu-cluster"
    assert props["codeId"] == f"{WS}/codes/ANON/versions/1"
    assert (props["jobType"], props["experimentName"]) == ("Command", "digits")
    identity = json.loads(props["environmentVariables"]["MLSTACK_JOB"])
    assert identity == {
        "id": JOB,
        "environment": {"name": "digits-env", "version": "3", "digest": "sha256:digits-env-3"},
        "inputs": {k: {"name": f"digits-{k}", "version": v, "digest": f"sha256:digits-{k}-{v}"}
                   for k, v in (("train", "7"), ("val", "5"), ("test", "4"))},
    }  # fmt: skip
    assert "@latest" not in json.dumps(calls[13].body)

    assert slept == [2.0, 3.0, 4.5, 6.75]  # capped backoff between polls
    out = result.output
    lines = [line for line in out.splitlines() if "->" in line]
    assert lines == [f"{JOB}: Starting -> Queued", f"{JOB}: Queued -> Running",
                     f"{JOB}: Running -> Completed"]  # fmt: skip
    assert f"submitted {JOB} to azureml:cpu-cluster: Starting" in out
    assert f"job {JOB}: Completed" in out
    assert "input train: digits-train:7  sha256:digits-train-7" in out

    record = JobStore.at(Path.cwd() / ".mlstack", STACK).get(JOB)
    assert (record.status, record.kind, record.extra["target"]) == ("Completed", "command", "azure")
    assert record.inputs["val"] == {"name": "digits-val", "version": "5",
                                    "digest": "sha256:digits-val-5"}  # fmt: skip
    assert record.inputs["epochs"] == {"value": 8}
    assert record.environment == {"name": "digits-env", "version": "3",
                                  "digest": "sha256:digits-env-3"}  # fmt: skip


def test_a_failed_job_exits_non_zero_with_the_services_reason(
    arm: JobsArm, slept: list[float]
) -> None:
    _statuses(arm, "Starting", "Running", "Failed")
    arm.table[("GET", "", None)] = (200, {
        "id": WS, "name": "mlstack-test", "location": "westeurope", "systemData": CREATED,
        "properties": {"discoveryUrl": f"https://{API_HOST}/discovery/workspaces/w"},
    })  # fmt: skip
    services = ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive",
                "labeling", "modelmanagement", "pipelines", "studio")  # fmt: skip
    urls = {service: f"https://{API_HOST}" for service in services}
    arm.table[("GET", "/@api/discovery/workspaces/w", None)] = (200, urls)
    details = f"/@api/history/v1.0{WS}/runs/{JOB}/details"
    message = "Execution failed. UserError: train.py exited with code 1: CUDA out of memory"
    arm.table[("GET", details, None)] = (200, {
        "runId": JOB, "status": "Failed",
        "error": {"error": {"code": "UserError", "message": message}},
    })  # fmt: skip

    result = run()

    assert result.exit_code == 1, result.output
    assert keys(arm.take())[len(PINNING) :] == [
        ("GET", f"/jobs/{JOB}", None),
        ("GET", f"/jobs/{JOB}", None),
        ("GET", "", None),  # the workspace, for its discovery URL
        ("GET", "/@api/discovery/workspaces/w", None),
        ("GET", details, None),
    ]
    assert f"{JOB}: Running -> Failed" in result.output
    assert f"job {JOB}: Failed ({message})" in result.output
    record = JobStore.at(Path.cwd() / ".mlstack", STACK).get(JOB)
    assert (record.status, record.reason) == ("Failed", message)


def test_no_wait_returns_after_the_put(arm: JobsArm, slept: list[float]) -> None:
    _statuses(arm, "Starting")

    result = run("--no-wait")

    assert result.exit_code == 0, result.output
    assert keys(arm.take()) == PINNING
    assert slept == []
    assert JobStore.at(Path.cwd() / ".mlstack", STACK).get(JOB).status == "Starting"


def test_ctrl_c_stops_watching_and_cancels_nothing(
    arm: JobsArm, monkeypatch: pytest.MonkeyPatch
) -> None:
    _statuses(arm, "Starting", "Running", "Running")
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(submit, "time", SimpleNamespace(sleep=sleep))

    result = run()

    assert result.exit_code == 130, result.output
    calls = keys(arm.take())
    assert calls == [*PINNING, ("GET", f"/jobs/{JOB}", None)]  # no cancel request
    assert "the job was NOT cancelled and keeps running" in result.output
    assert JobStore.at(Path.cwd() / ".mlstack", STACK).get(JOB).status == "Running"


def test_local_only_options_are_refused_before_any_request(arm: JobsArm) -> None:
    result = run("--output", "model=out", "--seed", "3")

    assert isinstance(result.exception, ConfigError)  # the CLI's main prints it, no traceback
    message = str(result.exception)
    assert "--output: applies to the local target only" in message
    assert "--seed: applies to the local target only" in message
    assert arm.calls == []


def test_a_reference_still_floating_is_refused() -> None:
    spec = load_spec(TRAIN)

    def floating(ref: str) -> tuple[str, str, str]:
        return ref.partition("@")[0], "latest", "sha256:x"

    with pytest.raises(WorkspaceError, match=r"inputs\.train = azureml:digits-train:latest"):
        submission_body(spec, JOB, data=floating, environment=floating)
