"""Contract tests of submitting a pipeline to Azure ML, with canned ARM replies.

The workspace is opened from the stack's locator (``open_service``) and every request
goes through the real ``MLClient`` into the recording adapter of
tests/unit/workspace/test_azure_contract.py; only the credential, the transport and the
pause between polls are swapped in. The pipeline names two registered components (one
by version, one by ``@latest``) and three data inputs by ``@latest``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.identity
import jwt
import pytest
from azure.core.credentials import AccessToken

from mlstack.config.components import component_digest, load_component_file
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.errors import ConfigError, WorkspaceError
from mlstack.jobs.pipeline import submit
from mlstack.jobs.pipeline.component import resolve_components
from mlstack.jobs.pipeline.spec import load_pipeline
from mlstack.jobs.record import JobStore
from mlstack.workspace.open import open_service
from tests.unit.jobs.test_azure_submit import API_HOST, JobsArm, _data, _environment
from tests.unit.workspace.test_azure_contract import (
    CREATED,
    SETTINGS,
    WS,
    Call,
    Key,
    Reply,
    keys,
    route_clients,
)

JOB = "digits_0123456789"
ENV_ID = f"azureml:{WS}/environments/digits-env/versions/3"
PIPELINE = """\
type: pipeline
display_name: digits pipeline
experiment_name: digits
settings:
  default_compute: azureml:cpu-cluster
inputs:
  train: {type: uri_folder, path: "azureml:digits-train@latest", mode: ro_mount}
  epochs: 8
outputs:
  model: {type: uri_folder}
jobs:
  prep:
    type: command
    component: azureml:prep_digits:2
    inputs:
      train: ${{parent.inputs.train}}
      val: {type: uri_folder, path: "azureml:digits-val@latest"}
  train:
    type: command
    component: azureml:train_digits@latest
    inputs:
      train: ${{parent.jobs.prep.outputs.train}}
      val: ${{parent.jobs.prep.outputs.val}}
      epochs: ${{parent.inputs.epochs}}
    outputs:
      model: ${{parent.outputs.model}}
"""
PREP = {
    "type": "command", "command": "python prep.py --train ${{inputs.train}} --val ${{inputs.val}} "
    "--out-train ${{outputs.train}} --out-val ${{outputs.val}}",
    "environment": "azureml:digits-env@latest", "is_deterministic": True,
    "inputs": {"train": {"type": "uri_folder"}, "val": {"type": "uri_folder"}},
    "outputs": {"train": {"type": "uri_folder"}, "val": {"type": "uri_folder"}},
}  # fmt: skip
TRAIN = {
    "type": "command", "command": "python train.py --train ${{inputs.train}} --val "
    "${{inputs.val}} --epochs ${{inputs.epochs}} --out ${{outputs.model}}",
    "environment": "azureml:digits-env@latest", "is_deterministic": True,
    "inputs": {"train": {"type": "uri_folder"}, "val": {"type": "uri_folder"},
               "epochs": {"type": "integer", "default": 8}},
    "outputs": {"model": {"type": "uri_folder"}},
}  # fmt: skip


class AmlCredential:
    """A token whose audience is Azure ML: azure-ai-ml checks it before a pipeline PUT."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = jwt.encode({"aud": "https://ml.azure.com"}, "canned-secret-of-32-bytes-or-more!!")
        return AccessToken(token, 2**31)


def component_version(name: str, version: str, spec: dict[str, Any], digest: str) -> dict[str, Any]:
    """A component version as mlstack registers it: the spec and digest in its properties,
    and the environment azure-ai-ml resolved at registration (digits-env:3)."""
    return {
        "id": f"{WS}/components/{name}/versions/{version}", "name": version, "systemData": CREATED,
        "properties": {
            "componentSpec": {
                **spec, "name": name, "version": version, "environment": ENV_ID,
                "code": f"azureml:{WS}/codes/{name}-code/versions/abc",
                "properties": {"mlstack.digest": digest, "mlstack.json": "spec",
                               "spec": json.dumps(spec, sort_keys=True)},
            },
            "isArchived": False, "isAnonymous": False,
        },
    }  # fmt: skip


def _components(arm: JobsArm) -> None:
    prep = component_version("prep_digits", "2", PREP, "sha256:prep-2")
    train = component_version("train_digits", "4", TRAIN, "sha256:train-4")
    for name, version, body in (("prep_digits", "2", prep), ("train_digits", "4", train)):
        arm.table[("GET", f"/components/{name}/versions/{version}", None)] = (200, body)
        arm.table[("GET", f"/components/{name}/versions", "ArchivedOnly")] = (200, {"value": []})
    arm.table[("GET", "/components/train_digits/versions", None)] = (200, {"value": [train]})
    env = arm.table[("GET", "/environments/digits-env/versions", None)]
    assert isinstance(env, tuple)
    arm.table[("GET", "/environments/digits-env/versions/3", None)] = (200, env[1]["value"][0])
    arm.table[("GET", "/computes/cpu-cluster", None)] = (200, {
        "id": f"{WS}/computes/cpu-cluster", "name": "cpu-cluster",
        "properties": {"computeType": "AmlCompute"},
    })  # fmt: skip


def _workspace(arm: JobsArm) -> None:
    """The workspace resource (azure-ai-ml keys its component cache by it, and run history
    is found through its discovery URL)."""
    arm.table[("GET", "", None)] = (200, {
        "id": WS, "name": "mlstack-test", "location": "westeurope", "systemData": CREATED,
        "properties": {"discoveryUrl": f"https://{API_HOST}/discovery/workspaces/w"},
    })  # fmt: skip
    services = ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive",
                "labeling", "modelmanagement", "pipelines", "studio")  # fmt: skip
    urls = {service: f"https://{API_HOST}" for service in services}
    arm.table[("GET", "/@api/discovery/workspaces/w", None)] = (200, urls)


def _job(status: str, put: Call) -> dict[str, Any]:
    return {"id": WS + put.path, "name": JOB, "systemData": CREATED,
            "properties": {**put.body["properties"], "status": status}}  # fmt: skip


def _statuses(arm: JobsArm, *statuses: str) -> None:
    """PUT answers the first status; each ``GET jobs/<id>`` the next one."""
    queue = list(statuses)
    arm.table[("PUT", f"/jobs/{JOB}", None)] = lambda call: (201, _job(queue.pop(0), call))

    def get(call: Call) -> Reply:
        put = next(c for c in arm.calls if c.method == "PUT")
        return 200, _job(queue.pop(0) if len(queue) > 1 else queue[0], put)

    arm.table[("GET", f"/jobs/{JOB}", None)] = get


CHILDREN = f"/@api/history/v1.0{WS}/runs/{JOB}/children"


def _children(arm: JobsArm, *rounds: dict[str, str], reused: dict[str, str] | None = None
              ) -> None:  # fmt: skip
    """Each read of the child runs answers the next round (step → status); the last
    repeats. The prep child names its step by node id, train by display name; a step in
    ``reused`` says Azure ML reused that earlier job for it."""
    queue = list(rounds)
    reused = reused or {}

    def properties(step: str) -> dict[str, str]:
        node = {"azureml.nodeid": step} if step == "prep" else {}
        if step in reused:
            return node | {"azureml.isreused": "true", "azureml.reusedrunid": reused[step]}
        return node

    def children(call: Call) -> Reply:
        now = queue.pop(0) if len(queue) > 1 else queue[0]
        runs = [{"runId": f"child_{step}", "status": status, "displayName": step,
                 "properties": properties(step)} for step, status in now.items()]  # fmt: skip
        return 200, {"value": runs, "nextLink": None}

    arm.table[("GET", CHILDREN, None)] = children


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    (tmp_path / "assets" / "jobs").mkdir(parents=True)
    (tmp_path / "assets" / "jobs" / "pipeline.yaml").write_text(PIPELINE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(submit, "new_job_id", lambda spec: JOB)
    return tmp_path


@pytest.fixture
def arm(project: Path, monkeypatch: pytest.MonkeyPatch) -> JobsArm:
    canned = JobsArm()
    route_clients(monkeypatch, canned)
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", AmlCredential)
    for fill in (_data, _environment, _components, _workspace):
        fill(canned)
    return canned


def submitted(project: Path, *, wait: bool = True, file: str = "pipeline.yaml"
              ) -> tuple[Any, list[str], list[float]]:  # fmt: skip
    """Submit the project's pipeline; (record, echoed lines, pauses between polls)."""
    spec = load_pipeline(project / "assets" / "jobs" / file)
    lines: list[str] = []
    pauses: list[float] = []
    record = submit.run_azure_pipeline(
        project / ".mlstack", STACK, spec, open_service(SETTINGS.locator), echo=lines.append,
        wait=wait, sleep=pauses.append,
    )  # fmt: skip
    return record, lines, pauses


STACK = "azdev"
PINNING: list[Key] = [
    ("GET", "/components/prep_digits/versions/2", None),  # the version the file names
    ("GET", "/components/prep_digits/versions", "ArchivedOnly"),
    ("GET", "/components/train_digits/versions", None),  # @latest: the newest created
    ("GET", "/components/train_digits/versions", "ArchivedOnly"),
    ("GET", "/components/prep_digits/versions/2", None),  # the environment it holds
    ("GET", "/components/train_digits/versions/4", None),
    ("GET", "/data/digits-train", None),  # latest label: the container's latestVersion
    ("GET", "/data/digits-train/versions/7", None),
    ("GET", "/data/digits-train/versions", "ArchivedOnly"),
    ("GET", "/data/digits-val", None),
    ("GET", "/data/digits-val/versions/5", None),
    ("GET", "/data/digits-val/versions", "ArchivedOnly"),
    ("GET", "/environments/digits-env/versions/3", None),  # its digest, once for both
    ("GET", "/environments/digits-env/versions", "ArchivedOnly"),
    ("GET", "", None),  # azure-ai-ml keys its component cache by the workspace
    ("PUT", f"/jobs/{JOB}", None),
]


def test_a_pipeline_is_submitted_pinned_and_watched_with_its_steps(
    arm: JobsArm, project: Path
) -> None:
    _statuses(arm, "NotStarted", "Running", "Running", "Completed")
    _children(arm, {}, {"prep": "Running"}, {"prep": "Completed", "train": "Running"},
              {"prep": "Completed", "train": "Completed"})  # fmt: skip

    record, lines, pauses = submitted(project)

    calls = arm.take()
    assert keys(calls)[: len(PINNING)] == PINNING
    assert [c for c in calls if c.method != "GET"] == [calls[len(PINNING) - 1]]  # one PUT
    put = calls[len(PINNING) - 1]
    props = put.body["properties"]
    assert (props["jobType"], props["experimentName"], props["displayName"]) == (
        "Pipeline", "digits", "digits pipeline",
    )  # fmt: skip
    assert props["inputs"]["train"] == {
        "uri": f"{WS}/data/digits-train/versions/7", "mode": "ReadOnlyMount",
        "jobInputType": "uri_folder",
    }  # fmt: skip
    assert props["inputs"]["epochs"] == {"value": "8", "jobInputType": "literal"}
    jobs = props["jobs"]
    assert jobs["prep"]["componentId"] == f"{WS}/components/prep_digits/versions/2"
    assert jobs["train"]["componentId"] == f"{WS}/components/train_digits/versions/4"
    assert props["settings"]["default_compute"] == f"{WS}/computes/cpu-cluster"
    assert jobs["prep"]["inputs"]["val"]["uri"] == f"{WS}/data/digits-val/versions/5"
    assert jobs["prep"]["inputs"]["train"]["value"] == "${{parent.inputs.train}}"
    assert "latest" not in json.dumps(put.body)
    env = {"name": "digits-env", "version": "3", "digest": "sha256:digits-env-3"}
    pipeline = {"id": JOB, "display_name": "digits pipeline", "steps": {},
                "inputs": {"train": {"name": "digits-train", "version": "7",
                                     "digest": "sha256:digits-train-7"}}}  # fmt: skip
    for step in ("prep", "train"):
        identity = json.loads(jobs[step]["environment_variables"]["MLSTACK_JOB"])
        assert identity["id"] is None  # Azure ML names the child; scripts read AZUREML_RUN_ID
        assert (identity["environment"], identity["pipeline"]) == (env, pipeline)
    prep = json.loads(jobs["prep"]["environment_variables"]["MLSTACK_JOB"])
    assert prep["inputs"] == {
        "train": pipeline["inputs"]["train"],  # type: ignore[index]
        "val": {"name": "digits-val", "version": "5", "digest": "sha256:digits-val-5"},
    }
    train = json.loads(jobs["train"]["environment_variables"]["MLSTACK_JOB"])
    assert train["inputs"] == {}  # step outputs only: no registered version to name

    polls = keys(calls)[len(PINNING) :]
    assert polls.count(("GET", f"/jobs/{JOB}", None)) == 3
    assert polls.count(("GET", CHILDREN, None)) == 4  # before each pause, and at the end
    assert pauses == [2.0, 3.0, 4.5]
    assert lines[0].startswith(f"submitted pipeline {JOB}: NotStarted  https://ml.azure.com/")
    assert lines[1:] == [
        f"{JOB}: NotStarted -> Running", "step prep: NotStarted -> Running",
        "step prep: Running -> Completed", "step train: NotStarted -> Running",
        f"{JOB}: Running -> Completed", "step train: Running -> Completed",
    ]  # fmt: skip

    store = JobStore.at(project / ".mlstack", STACK)
    assert store.get(JOB) == record
    children = {r.extra["step"]: r for r in store.list(parent=JOB)}
    assert {s: (r.id, r.kind, r.status, r.extra["component"]) for s, r in children.items()} == {
        "prep": ("child_prep", "command", "Completed", "prep_digits:2"),
        "train": ("child_train", "command", "Completed", "train_digits:4"),
    }
    assert children["prep"].extra["component_digest"] == "sha256:prep-2"
    assert (record.kind, record.status) == ("pipeline", "Completed")
    assert record.extra["target"] == "azure"
    assert record.inputs == {"epochs": {"value": 8}, **pipeline["inputs"]}  # type: ignore[dict-item]
    assert record.environment == env
    assert record.extra["steps"] == {
        "prep": {"job": "child_prep", "component": "prep_digits:2", "status": "Completed",
                 "reused_from": None, "upstream": [], "environment": env},
        "train": {"job": "child_train", "component": "train_digits:4", "status": "Completed",
                  "reused_from": None, "upstream": ["prep"], "environment": env},
    }  # fmt: skip


def test_a_step_azure_ml_reused_is_reported_with_the_job_it_reused(
    arm: JobsArm, project: Path
) -> None:
    _statuses(arm, "NotStarted", "Running", "Completed")
    _children(arm, {"prep": "Completed", "train": "Running"},
              {"prep": "Completed", "train": "Completed"}, reused={"prep": "old_prep"})  # fmt: skip

    record, lines, _ = submitted(project)

    assert "step prep: reused from old_prep (Azure ML reuse)" in lines
    assert record.extra["steps"]["prep"]["reused_from"] == "old_prep"
    assert record.extra["steps"]["train"]["reused_from"] is None
    children = {r.extra["step"]: r for r in JobStore.at(project / ".mlstack", STACK).list(
        parent=JOB)}  # fmt: skip
    assert children["prep"].extra["reused_from"] == "old_prep"
    assert children["train"].extra["reused_from"] is None


def test_no_wait_returns_after_the_put(arm: JobsArm, project: Path) -> None:
    _statuses(arm, "NotStarted")

    record, _, pauses = submitted(project, wait=False)

    assert keys(arm.take()) == PINNING
    assert (record.status, pauses) == ("NotStarted", [])
    assert set(record.extra["steps"]) == {"prep", "train"}
    assert {s["status"] for s in record.extra["steps"].values()} == {"NotStarted"}


def test_a_failed_pipeline_carries_the_services_reason(arm: JobsArm, project: Path) -> None:
    _statuses(arm, "Running", "Failed")
    _children(arm, {"prep": "Failed"})
    details = f"/@api/history/v1.0{WS}/runs/{JOB}/details"
    message = "Execution failed. UserError: step prep failed: prep.py exited with code 2"
    arm.table[("GET", details, None)] = (200, {
        "runId": JOB, "status": "Failed",
        "error": {"error": {"code": "UserError", "message": message}},
    })  # fmt: skip

    record, _, _ = submitted(project)

    assert (record.status, record.reason) == ("Failed", message)
    assert record.extra["steps"]["prep"]["status"] == "Failed"
    assert record.extra["steps"]["train"]["status"] == "NotStarted"


def test_a_reference_still_floating_is_refused_before_any_put(arm: JobsArm, project: Path) -> None:
    spec = load_pipeline(project / "assets" / "jobs" / "pipeline.yaml")
    components = resolve_components(spec, open_service(SETTINGS.locator).registry("component"),
                                    project, NoCache())  # fmt: skip

    def floating(ref: str) -> tuple[str, str, str]:
        return ref.partition("@")[0], "latest", "sha256:x"

    job = submit.pinned_pipeline(spec, JOB, components, data=floating, environment=floating)
    with pytest.raises(WorkspaceError) as refused:
        submit.pipeline_body(spec, job)
    assert "inputs.train.uri = azureml:digits-train:latest" in str(refused.value)
    assert "jobs.prep.inputs.val.uri = azureml:digits-val:latest" in str(refused.value)
    job.jobs["train"]._component = "azureml:train_digits@latest"
    with pytest.raises(WorkspaceError, match=r"jobs\.train\.componentId = azureml:train_digits@"):
        submit.pipeline_body(spec, job)
    assert [c.method for c in arm.calls] == ["GET"] * len(arm.calls)


COMPONENT_FILE = """\
type: command
name: prep_digits
code: ../../steps/prep
environment: azureml:digits-env@latest
command: python prep.py --train ${{inputs.train}} --out ${{outputs.train}}
inputs:
  train: {type: uri_folder}
outputs:
  train: {type: uri_folder}
"""
FILE_PIPELINE = """\
type: pipeline
settings:
  default_compute: azureml:cpu-cluster
inputs:
  train: {type: uri_folder, path: "azureml:digits-train:7"}
jobs:
  prep:
    type: command
    component: ../components/prep.yaml
    inputs:
      train: ${{parent.inputs.train}}
"""


def _file_component(project: Path) -> str:
    """A component file in the project; the digest ``pulumi up`` registers it under."""
    (project / "steps" / "prep").mkdir(parents=True)
    (project / "steps" / "prep" / "prep.py").write_text("print('prep')\n")
    (project / "assets" / "components").mkdir(parents=True)
    (project / "assets" / "components" / "prep.yaml").write_text(COMPONENT_FILE)
    (project / "assets" / "jobs" / "file.yaml").write_text(FILE_PIPELINE)
    loaded = load_component_file(project / "assets" / "components" / "prep.yaml", project)
    return component_digest(loaded.spec, scan(loaded.code, NoCache()).digest)


def test_an_unregistered_component_file_is_refused_before_any_put(
    arm: JobsArm, project: Path
) -> None:
    _file_component(project)
    arm.table[("GET", "/components/prep_digits/versions", "All")] = (200, {"value": [
        component_version("prep_digits", "2", PREP, "sha256:other-content"),
    ]})  # fmt: skip

    with pytest.raises(ConfigError) as refused:
        submitted(project, file="file.yaml")

    assert str(refused.value).endswith(
        f"jobs.prep.component: {project}/assets/components/prep.yaml is not registered in "
        f"the workspace: run `pulumi up -s {STACK}` to register assets/components, then submit"
    )
    assert keys(arm.take()) == [
        ("GET", "/components/prep_digits/versions", "All"),  # no version with its digest
        ("GET", "/components/prep_digits/versions", "ArchivedOnly"),
    ]


def test_a_registered_component_file_is_submitted_as_its_version(
    arm: JobsArm, project: Path
) -> None:
    digest = _file_component(project)
    mine = component_version("prep_digits", "6", PREP, digest)
    arm.table[("GET", "/components/prep_digits/versions", "All")] = (200, {"value": [
        component_version("prep_digits", "2", PREP, "sha256:other-content"), mine,
    ]})  # fmt: skip
    arm.table[("GET", "/components/prep_digits/versions/6", None)] = (200, mine)
    _statuses(arm, "NotStarted")

    record, _, _ = submitted(project, wait=False, file="file.yaml")

    put = next(c for c in arm.take() if c.method == "PUT")
    node = put.body["properties"]["jobs"]["prep"]
    assert node["componentId"].endswith("/components/prep_digits/versions/6")
    assert node["inputs"]["train"] == {"value": "${{parent.inputs.train}}",
                                       "job_input_type": "literal"}  # fmt: skip
    assert put.body["properties"]["inputs"]["train"]["uri"] == f"{WS}/data/digits-train/versions/7"
    assert record.extra["steps"]["prep"]["component"] == "prep_digits:6"


def test_a_pipeline_without_compute_is_refused(arm: JobsArm, project: Path) -> None:
    source = project / "assets" / "jobs" / "pipeline.yaml"
    source.write_text(PIPELINE.replace("settings:\n  default_compute: azureml:cpu-cluster\n", ""))

    with pytest.raises(ConfigError, match=r"settings\.default_compute: an Azure ML pipeline "
                       r"needs a compute.*missing on prep, train"):  # fmt: skip
        submitted(project)
    assert all(c.method == "GET" for c in arm.calls)


def test_ctrl_c_stops_watching_and_cancels_nothing(arm: JobsArm, project: Path) -> None:
    _statuses(arm, "NotStarted", "Running", "Running")
    _children(arm, {"prep": "Running"})
    spec = load_pipeline(project / "assets" / "jobs" / "pipeline.yaml")
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            raise KeyboardInterrupt

    lines: list[str] = []
    record = submit.run_azure_pipeline(project / ".mlstack", STACK, spec,
                                       open_service(SETTINGS.locator), echo=lines.append,
                                       sleep=sleep)  # fmt: skip

    assert all(c.method == "GET" for c in arm.take()[len(PINNING) :])  # no cancel request
    assert "the job was NOT cancelled and keeps running" in lines[-1]
    assert (record.status, record.reason) == ("Running", "still running on Azure ML; not cancelled")
    assert record.extra["steps"]["prep"] | {"environment": None} == {
        "job": "child_prep", "component": "prep_digits:2", "status": "Running",
        "reused_from": None, "upstream": [], "environment": None,
    }  # fmt: skip


def test_mlstack_job_run_submits_a_pipeline_on_an_azure_stack(
    arm: JobsArm, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's dispatch: an azure stack submits (here without waiting); -o is refused."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from mlstack.cli import app  # noqa: PLC0415
    from mlstack.project import HOME_ENV  # noqa: PLC0415
    from tests.unit.jobs.test_azure_submit import _stack_file  # noqa: PLC0415

    (project / "stacks").mkdir()
    (project / "stacks" / f"Pulumi.{STACK}.yaml").write_text(_stack_file(SETTINGS))
    monkeypatch.setenv(HOME_ENV, str(project / ".mlstack"))
    _statuses(arm, "NotStarted")
    command = ["job", "run", "assets/jobs/pipeline.yaml", "-s", STACK]

    refused = CliRunner().invoke(app, [*command, "-o", "model=out"])
    assert isinstance(refused.exception, ConfigError)
    assert "--output: applies to the local target only" in str(refused.exception)
    assert arm.take() == []

    result = CliRunner().invoke(app, [*command, "--no-wait", "--format", "json"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert keys(arm.take()) == PINNING
    assert json.loads(result.stdout)["id"] == JOB
    assert JobStore.at(project / ".mlstack", STACK).get(JOB).status == "NotStarted"
