"""Drift findings over in-memory records: state resources, workspace versions, live traffic.

The state is given as the records ``pulumi stack export`` holds (type, URN, outputs), so the
same parsing runs as on a real stack; the Azure read of an endpoint's traffic is checked
against azure-ai-ml's real HTTP pipeline with canned ARM replies (the loopback Azure ML
service has no online endpoint routes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.ai.ml import MLClient
from azure.core.pipeline.transport import RequestsTransport
from typer.testing import CliRunner

from mlstack.audit.drift import (
    DriftReport,
    Finding,
    Fixes,
    RouterTables,
    ServiceEndpoints,
    StackState,
    Traffic,
    find_drift,
)
from mlstack.cli import app
from mlstack.cli import drift as drift_cli
from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.errors import StackError
from mlstack.project import HOME_ENV
from mlstack.stack import StateResource
from mlstack.stack.state import state_resources
from mlstack.workspace.asset import AssetVersion
from tests.unit.workspace.test_azure_contract import CREATED, SETTINGS, WS, CannedArm, Credential

STACK = "dev"
LOCAL = LocalLocator(stack=STACK)
AZURE = SETTINGS.locator
DIGEST = {n: f"sha256:{n * 64}" for n in "abcdef"}
PREFIX = f"urn:pulumi:{STACK}::mlstack::mlstack:local:Platform$pulumi-python:dynamic/mlstack:"
LOGICAL = {"DataAsset": "data", "PromotedData": "data", "ModelVersion": "model",
           "EnvironmentVersion": "env", "ComponentVersion": "component"}  # fmt: skip
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
          "ciphertext": "v1:opaque"}  # fmt: skip


def urn(type_: str, name: str) -> str:
    return f"{PREFIX}{type_}::{name}"


def asset(type_: str, name: str, version: str, digest: str, **over: Any) -> StateResource:
    """An asset resource as the state records it: inputs and outputs together."""
    outputs = {"workspace": LOCAL.model_dump(), "name": name, "digest": digest,
               "type": "uri_folder", "source": "/src", "image": "python:3.11",
               "source_stack": "local", "source_version": version,
               "source_workspace": {"target": "local", "stack": "local"},
               "version": version, "registered": [version], "archived": False,
               "__provider": SECRET, **over}  # fmt: skip
    return StateResource(urn(type_, f"{LOGICAL[type_]}-{name}"), f"pulumi-python:dynamic/"
                         f"mlstack:{type_}", outputs)  # fmt: skip


def endpoint(
    traffic: Mapping[str, float], mirror: Mapping[str, float] | None = None
) -> StateResource:
    outputs = {"workspace": LOCAL.model_dump(), "name": "digits", "traffic": dict(traffic),
               "mirror_traffic": dict(mirror or {}), "deployments": {}, "health": "running",
               "primary_key": SECRET}  # fmt: skip
    return StateResource(urn("LocalEndpoint", "endpoint-digits"),
                         "pulumi-python:dynamic/mlstack:LocalEndpoint", outputs)  # fmt: skip


def version(kind: str, name: str, number: str, digest: str, archived: bool = False) -> AssetVersion:
    return AssetVersion(name=name, version=number, type="uri_folder", uri="azureml://x",
                        digest=digest, files=1, bytes=1, archived=archived, kind=kind)  # fmt: skip


class Live:
    """Endpoints serving the splits given."""

    def __init__(self, **splits: Traffic | None) -> None:
        self.splits = splits

    def traffic(self, endpoint: str) -> Traffic | None:
        return self.splits.get(endpoint)


STATE = [
    StateResource(
        urn("Workspace", "platform-workspace"),
        "pulumi-python:dynamic/mlstack:Workspace",
        {"name": "ws"},
    ),
    asset("DataAsset", "train", "2", DIGEST["b"], registered=["1", "2"]),
    asset("ModelVersion", "cnn", "1", DIGEST["c"]),
    asset("EnvironmentVersion", "env", "1", DIGEST["d"]),
    asset("PromotedData", "val", "1", DIGEST["e"]),
    endpoint({"blue": 90.0, "green": 10.0}, {"green": 5.0}),
]
WORKSPACE = [
    version("data", "train", "1", DIGEST["a"]),  # registered earlier by the resource
    version("data", "train", "2", DIGEST["b"]),
    version("data", "val", "1", DIGEST["e"]),  # promoted into the stack
    version("data", "old", "1", DIGEST["f"], archived=True),  # a removed resource's
    version("model", "cnn", "1", DIGEST["c"]),
    version("environment", "env", "1", DIGEST["d"]),
]
SERVING = Traffic.of({"blue": 90, "green": 10}, {"green": 5})


def drift(
    state: list[StateResource] = STATE,
    workspace: list[AssetVersion] = WORKSPACE,
    live: Live | None = None,
    locator: LocalLocator | AzureLocator = LOCAL,
) -> list[Finding]:
    fixes = Fixes(STACK, locator, Path("/home/.mlstack/stacks/dev/endpoints"))
    return find_drift(StackState.of(STACK, state), workspace, live or Live(digits=SERVING), fixes)


def test_the_state_is_read_from_export_records() -> None:
    state = StackState.of(STACK, STATE)
    kinds = {(a.kind, a.name, a.version, a.registered) for a in state.assets}
    assert kinds == {("data", "train", "2", ("1", "2")), ("model", "cnn", "1", ("1",)),
                     ("environment", "env", "1", ("1",)), ("data", "val", "1", ("1",))}  # fmt: skip
    [digits] = state.endpoints
    assert digits.name == "digits" and digits.traffic == SERVING  # doubles read as integers


def test_a_stack_whose_workspace_and_endpoints_agree_has_no_drift() -> None:
    assert drift() == []
    # Azure ML lists deployments without traffic at 0: the same split.
    live = Live(digits=Traffic.of({"blue": 90, "green": 10, "red": 0}, {"green": 5}))
    assert drift(live=live) == []


def test_zero_weights_are_no_traffic() -> None:
    live = Traffic.of({"blue": 90, "green": 10, "red": 0}, {"green": 5, "blue": 0})
    assert not Traffic.of({"blue": 90.0, "green": 10.0}, {"green": 5}).differs_from(live)


def test_a_version_registered_behind_the_stacks_back_is_an_orphan_with_two_fixes() -> None:
    workspace = [*WORKSPACE, version("data", "train", "3", DIGEST["f"]),
                 version("model", "pipeline-cnn", "1", DIGEST["a"])]  # fmt: skip
    found = drift(workspace=workspace)
    assert [(f.kind, f.subject) for f in found] == [
        ("orphan", "data train:3"), ("orphan", "model pipeline-cnn:1"),
    ]  # fmt: skip
    train, new = found
    adopt, archive = train.fixes
    assert "adopt it by digest (sha256:ffffffffffff)" in adopt
    assert "point the declaration of data-train in assets/data/" in adopt  # declared
    assert "takes version 3 as it is" in adopt and "`pulumi up -s dev`" in adopt
    assert "declare model pipeline-cnn in assets/models/" in new.fixes[0]
    assert archive == "or archive it: `mlstack data archive train:3 -s dev` (`restore` undoes it)"
    assert "no resource of stack dev registered it" in train.detail


def test_an_azure_orphan_names_the_same_archive_command() -> None:
    found = drift(workspace=[*WORKSPACE, version("model", "x", "4", DIGEST["a"])], locator=AZURE)
    [orphan] = found
    assert orphan.fixes[1] == (
        "or archive it: `mlstack model archive x:4 -s dev` (`restore` undoes it)"
    )


def test_archived_and_earlier_versions_are_never_orphans() -> None:
    workspace = [*WORKSPACE, version("model", "notebook", "1", DIGEST["a"], archived=True)]
    assert drift(workspace=workspace) == []


def test_the_current_version_gone_from_the_workspace() -> None:
    workspace = [v for v in WORKSPACE if (v.name, v.version) != ("cnn", "1")]
    [found] = drift(workspace=workspace)
    assert (found.kind, found.subject) == ("missing", "model cnn:1")
    assert found.fixes == (
        "`pulumi refresh -s dev`, then `pulumi up -s dev`: refresh drops the resource, up "
        "registers its content again",
    )


def test_the_current_version_archived_outside_mlstack() -> None:
    workspace = [version("environment", "env", "1", DIGEST["d"], archived=True)
                 if v.name == "env" else v for v in WORKSPACE]  # fmt: skip
    [found] = drift(workspace=workspace)
    assert (found.kind, found.subject) == ("archived", "environment env:1")
    assert found.fixes[0].startswith("`pulumi refresh -s dev`, then `pulumi up -s dev`")
    assert "assets/environments/" in found.fixes[1]
    # Once a refresh has recorded it, `pulumi up` alone restores it.
    state = [asset("EnvironmentVersion", "env", "1", DIGEST["d"], archived=True)
             if r.name == "env-env" else r for r in STATE]  # fmt: skip
    [after] = drift(state=state, workspace=workspace)
    assert after.fixes[0] == "`pulumi up -s dev` restores it"


def test_an_earlier_version_archived_is_history_not_drift() -> None:
    workspace = [version("data", "train", "1", DIGEST["a"], archived=True)
                 if (v.name, v.version) == ("train", "1") else v for v in WORKSPACE]  # fmt: skip
    assert drift(workspace=workspace) == []


def test_the_current_version_holding_other_content() -> None:
    workspace = [version("model", "cnn", "1", DIGEST["a"]) if v.name == "cnn" else v
                 for v in WORKSPACE]  # fmt: skip
    [found] = drift(workspace=workspace)
    assert (found.kind, found.subject) == ("content", "model cnn:1")
    assert "holds sha256:aaaaaaaaaaaa" in found.detail and "sha256:cccccccccccc" in found.detail
    assert found.fixes[0].startswith(
        f"`pulumi up -s dev --replace '{urn('ModelVersion', 'model-cnn')}'`"
    )


def test_traffic_changed_outside_pulumi_locally() -> None:
    [found] = drift(live=Live(digits=Traffic.of({"blue": 100})))
    assert (found.kind, found.subject) == ("traffic", "endpoint digits")
    assert found.detail == (
        "the state declares blue 90% · green 10% (mirror green 5%); the endpoint serves blue 100%"
    )
    assert "`kill $(cat /home/.mlstack/stacks/dev/endpoints/digits/router.pid)`" in found.fixes[0]
    # Mirror traffic counts too.
    [mirror] = drift(live=Live(digits=Traffic.of({"blue": 90, "green": 10})))
    assert mirror.kind == "traffic"


def test_an_endpoint_that_serves_nothing() -> None:
    [found] = drift(live=Live())
    assert (found.kind, found.fixes) == (
        "not-serving", ("`pulumi up -s dev` starts it again (a preview sees it down)",),
    )  # fmt: skip


AZURE_TRAFFIC = StateResource(
    "urn:pulumi:dev::mlstack::pulumi-python:dynamic:Resource::platform-traffic-digits",
    "pulumi-python:dynamic:Resource",
    {"subscription": AZURE.subscription_id, "resource_group": AZURE.resource_group,
     "workspace": AZURE.workspace, "endpoint": "digits", "traffic": {"blue": 100.0}},
)  # fmt: skip


def test_azure_traffic_is_the_traffic_step_and_replacing_it_is_the_fix() -> None:
    state = [r for r in STATE if "LocalEndpoint" not in r.type] + [AZURE_TRAFFIC]
    live = Live(digits=Traffic.of({"blue": 100}, {"blue": 20}))  # mirror: not declared here
    assert drift(state=state, live=live, locator=AZURE) == []
    [found] = drift(state=state, live=Live(digits=Traffic.of({"blue": 50, "green": 50})),
                    locator=AZURE)  # fmt: skip
    assert found.fixes[0].startswith(f"`pulumi up -s dev --replace '{AZURE_TRAFFIC.urn}'`")
    [gone] = drift(state=state, live=Live(), locator=AZURE)
    assert gone.kind == "not-serving" and "refresh drops the endpoint" in gone.fixes[0]


def test_an_unreadable_asset_state_names_the_resource() -> None:
    broken = asset("DataAsset", "train", "2", "md5:nope")
    with pytest.raises(
        StackError, match=r"::data-train cannot be read .*: run `pulumi refresh -s dev`"
    ):
        StackState.of(STACK, [broken])


# -- the live readers -------------------------------------------------------------------------


def test_a_local_endpoint_without_a_running_router_serves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "digits"
    folder.mkdir()
    (folder / "routes.json").write_text(json.dumps({"traffic": {"blue": 100}}))
    assert RouterTables(tmp_path).traffic("digits") is None  # no router.pid
    (folder / "router.pid").write_text("999999999")
    assert RouterTables(tmp_path).traffic("digits") is None  # not a live server of ours


def _online_endpoint(traffic: dict[str, int]) -> dict[str, Any]:
    return {"id": f"{WS}/onlineEndpoints/digits", "name": "digits", "location": "westeurope",
            "kind": "Managed", "identity": {"type": "SystemAssigned"},
            "systemData": {**CREATED, "lastModifiedAt": "2025-03-05T05:06:07Z"},
            "properties": {"authMode": "Key", "properties": {}, "traffic": traffic,
                           "mirrorTraffic": {}, "provisioningState": "Succeeded",
                           "scoringUri": "https://digits.example/score"}}  # fmt: skip


def _deployment(name: str) -> dict[str, Any]:
    return {"id": f"{WS}/onlineEndpoints/digits/deployments/{name}", "name": name,
            "location": "westeurope", "kind": "Managed", "systemData": CREATED,
            "sku": {"name": "Default", "capacity": 1},
            "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_DS3_v2",
                           "scaleSettings": {"scaleType": "Default"},
                           "provisioningState": "Succeeded"}}  # fmt: skip


@pytest.fixture
def arm() -> Iterator[tuple[CannedArm, MLClient]]:
    canned = CannedArm()
    session = requests.Session()
    session.mount("https://", canned)
    client = MLClient(Credential(), AZURE.subscription_id, AZURE.resource_group, AZURE.workspace,
                      transport=RequestsTransport(session=session))  # fmt: skip
    yield canned, client
    canned.close()


def test_azure_traffic_is_read_with_the_workspaces_mlclient(
    arm: tuple[CannedArm, MLClient],
) -> None:
    canned, client = arm
    canned.table[("GET", "/onlineEndpoints/digits", None)] = (
        200, _online_endpoint({"blue": 70, "green": 30}),
    )  # fmt: skip
    canned.table[("GET", "/onlineEndpoints/digits/deployments", None)] = (
        200, {"value": [_deployment("blue"), _deployment("green"), _deployment("red")]},
    )  # fmt: skip
    live = ServiceEndpoints(client).traffic("digits")
    # The endpoint, then its deployments (red, with no traffic, listed at 0 and dropped).
    assert [(c.method, c.path, c.query["api-version"]) for c in canned.take()] == [
        ("GET", "/onlineEndpoints/digits", "2022-02-01-preview"),
        ("GET", "/onlineEndpoints/digits/deployments", "2022-02-01-preview"),
    ]  # fmt: skip
    assert live == Traffic.of({"blue": 70, "green": 30}, {})
    # The same comparison as the local target's: the state said blue 100%.
    state = StackState.of(STACK, [AZURE_TRAFFIC])
    fixes = Fixes(STACK, AZURE, Path("/unused"))
    [found] = find_drift(state, [], ServiceEndpoints(client), fixes)
    assert found.detail == "the state declares blue 100%; the endpoint serves blue 70% · green 30%"


def test_an_azure_endpoint_that_does_not_exist_serves_nothing(
    arm: tuple[CannedArm, MLClient],
) -> None:
    canned, client = arm
    assert ServiceEndpoints(client).traffic("digits") is None  # ARM's 404
    assert [c.path for c in canned.take()] == ["/onlineEndpoints/digits"]


# -- the command --------------------------------------------------------------------------------


def test_a_stack_that_cannot_be_read_exits_2_with_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  mlstack:target: moon\n")
    monkeypatch.setenv(HOME_ENV, str(tmp_path / ".mlstack"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["drift", "-s", "dev"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "target" in result.output
    assert "Traceback" not in result.output


def test_a_state_of_the_previous_release_is_read_too() -> None:
    """Its asset resources name their workspace by ``stack``/``home``, not a locator."""
    exported = json.loads((Path(__file__).parents[2] / "fixtures/state-v0/upgrade.state.json")
                          .read_text())  # fmt: skip
    state = StackState.of("upgrade", state_resources(exported))
    assert sorted((a.kind, a.name, a.version) for a in state.assets) == [
        ("data", "digits-test", "1"), ("data", "digits-train", "1"), ("data", "digits-val", "1"),
        ("environment", "digits-env", "1"), ("model", "digits-cnn", "1"),
    ]  # fmt: skip
    assert state.endpoints == ()


def test_the_command_prints_findings_as_a_table_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendering and exit codes alone; the report itself is the real stack's in
    tests/integration/test_drift.py."""
    (tmp_path / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "160")
    findings = tuple(drift(live=Live(digits=Traffic.of({"blue": 100}))))
    reports = iter([DriftReport("dev", "local", findings), DriftReport("dev", "local")])
    monkeypatch.setattr(drift_cli, "drift_report", lambda stack: next(reports))
    shown = CliRunner().invoke(app, ["drift", "-s", "dev"])
    assert shown.exit_code == 1
    assert "endpoint digits" in shown.output and "router.pid" in shown.output
    clean = CliRunner().invoke(app, ["drift", "-s", "dev"])
    assert (clean.exit_code, clean.output.strip()) == (
        0, "stack dev: no drift (state, workspace and endpoints agree)",
    )  # fmt: skip
