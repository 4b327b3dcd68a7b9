"""The resource input models: one schema per kind, both state shapes, what a change means.

Legacy inputs are the real ones: the states of two stacks made by the previous release
(``tests/fixtures/state-v0``), diffed against the inputs today's planning declares for
the same content.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.config.resources import (
    RESOURCE_TYPES,
    AssetInputs,
    DataInputs,
    DeploymentInputs,
    EndpointInputs,
    EnvironmentInputs,
    ModelInputs,
    PromotedDataInputs,
    PromotedModelInputs,
    ResourceInputs,
)
from mlstack.config.stack import StackConfig, load_stack_config

STATES = Path(__file__).resolve().parents[2] / "fixtures" / "state-v0"
LEGACY_KEYS = ("stack", "home", "container", "__provider")
DIGEST = "sha256:" + "a" * 64
LOCAL = LocalLocator(stack="dev", container="mlstack-dev")
AZURE = AzureLocator(subscription_id="s", resource_group="rg", workspace="ws", datastore="ds")

Props = dict[str, Any]


def _config(stack: str) -> StackConfig:
    """The stack's config as the program reads it today (its stack file in the fixture)."""
    raw = yaml.safe_load((STATES / f"Pulumi.{stack}.yaml").read_text())["config"]
    return load_stack_config(stack, {k.removeprefix("mlstack:"): v for k, v in raw.items()})


def _legacy() -> list[tuple[str, str, Props, Props]]:
    """(stack, resource type, inputs, outputs) of each asset resource in the fixtures."""
    found = []
    for stack in ("upgrade", "upgrade-prod"):
        state = json.loads((STATES / f"{stack}.state.json").read_text())
        for resource in state["deployment"]["resources"]:
            kind = resource["type"].rpartition(":")[2]
            if resource["type"].startswith("pulumi-python:dynamic/") and kind in RESOURCE_TYPES:
                found.append((stack, kind, resource["inputs"], resource["outputs"]))
    return found


LEGACY = _legacy()


def todays_inputs(stack: str, inputs: Props) -> Props:
    """What today's planning declares for the same content: the workspace by locator,
    and a promotion's source workspace by the source stack's locator."""
    news = {k: v for k, v in inputs.items() if k not in LEGACY_KEYS}
    news["workspace"] = _config(stack).locator.model_dump()
    if "source_stack" in inputs:
        news["source_workspace"] = _config(inputs["source_stack"]).locator.model_dump()
    return news


def test_the_fixtures_hold_every_kind_of_asset_resource() -> None:
    kinds = {kind for _, kind, _, _ in LEGACY}
    assert kinds == {"DataAsset", "ModelVersion", "EnvironmentVersion", "PromotedData",
                     "PromotedModel"}  # fmt: skip
    assert all("home" in inputs for _, _, inputs, _ in LEGACY)  # the shape this is about


@pytest.mark.parametrize(
    ("stack", "kind", "inputs", "outputs"),
    LEGACY,
    ids=[f"{s}-{k}-{i['name']}" for s, k, i, _ in LEGACY],
)
def test_a_legacy_state_against_todays_inputs_is_no_change_and_no_replace(
    stack: str, kind: str, inputs: Props, outputs: Props
) -> None:
    model = RESOURCE_TYPES[kind]
    old, new = model.parse(outputs), model.parse(todays_inputs(stack, inputs))
    assert old.workspace == new.workspace == _config(stack).locator
    assert new.replaces(old) == []
    assert isinstance(old, AssetInputs) and isinstance(new, AssetInputs)
    assert new.content_changed(old) == [] and new.metadata_changed(old) == []
    assert "home" not in new.to_props()


def test_a_legacy_promotion_names_its_source_by_stack() -> None:
    (inputs,) = [i for s, k, i, _ in LEGACY if k == "PromotedModel"]
    parsed = PromotedModelInputs.parse(inputs)
    assert parsed.source_workspace == LocalLocator(stack="upgrade")
    assert (parsed.source_stack, parsed.source_version) == ("upgrade", "1")


# -- the models on their own ---------------------------------------------------------------


def _data(**over: Any) -> Props:
    return {"workspace": LOCAL.model_dump(), "name": "digits-train", "type": "uri_folder",
            "source": "/src/data", "digest": DIGEST, "files": 3, "bytes": 21, **over}  # fmt: skip


def test_parse_tolerates_outputs_doubles_and_the_serialized_provider() -> None:
    """What the engine hands back: inputs, outputs of earlier runs, numbers as doubles."""
    outputs = {"version": "1", "uri": "u", "registered": ["1"], "archived": False,
               "transfer": None}  # fmt: skip
    engine = {**_data(files=3.0, bytes=21.0), **outputs, "__provider": "p", "changes": None}
    parsed = DataInputs.parse(engine)
    assert (parsed.files, parsed.bytes, parsed.changes) == (3, 21, "")
    assert parsed == DataInputs.parse(_data())


def test_to_props_is_json_shaped_deterministic_and_parses_back() -> None:
    inputs = DataInputs.parse(_data(tags={"b": "2", "a": "1"}))
    props = inputs.to_props()
    assert json.loads(json.dumps(props)) == props
    assert DataInputs.parse(props) == inputs
    assert props["workspace"] == {"target": "local", "stack": "dev", "container": "mlstack-dev"}
    assert list(props) == list(DataInputs.parse(dict(reversed(_data().items()))).to_props())


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"name": "digits-val"}, ["name"]),
        ({"workspace": LocalLocator(stack="other", container="mlstack-dev")}, ["workspace"]),
        ({"workspace": LocalLocator(stack="dev", container="other")}, ["workspace"]),
        ({"workspace": AZURE}, ["workspace"]),
        ({"workspace": LOCAL, "source": "/moved/checkout/data"}, []),
    ],
    ids=["name", "stack", "container", "target", "moved folder"],
)
def test_only_another_workspace_or_name_replaces(change: Props, replaces: list[str]) -> None:
    old = DataInputs.parse(_data())
    assert old.model_copy(update=change).replaces(old) == replaces


def test_content_and_metadata_changes_are_told_apart() -> None:
    old = ModelInputs.parse({**_data(), "type": "custom_model", "stage": "Staging"})
    new = old.model_copy(update={"digest": "sha256:" + "b" * 64, "stage": "Production"})
    assert new.content_changed(old) == ["digest"]
    assert new.metadata_changed(old) == ["stage"]
    data = DataInputs.parse(_data())
    assert data.model_copy(update={"type": "uri_file"}).content_changed(data) == ["type"]
    assert data.model_copy(update={"files": 9, "changes": "x"}).content_changed(data) == []


def test_a_promotion_is_new_content_when_its_source_version_changes() -> None:
    promoted = {"source_stack": "dev", "source_version": "1", "workspace": AZURE.model_dump(),
                "source_workspace": LOCAL.model_dump()}  # fmt: skip
    old = PromotedDataInputs.parse({**_data(), **promoted})
    new = old.model_copy(update={"source_version": "2"})
    assert new.content_changed(old) == ["source_version"] and new.replaces(old) == []


def test_the_digest_must_be_a_sha256() -> None:
    with pytest.raises(ValidationError, match="digest"):
        DataInputs.parse(_data(digest="md5:abc"))


def test_every_resource_type_has_its_model_and_review_section() -> None:
    assert {name: model.section for name, model in RESOURCE_TYPES.items()} == {
        "DataAsset": "data asset", "ModelVersion": "model", "EnvironmentVersion": "environment",
        "PromotedData": "data asset", "PromotedModel": "model", "LocalEndpoint": "endpoint",
        "ComponentVersion": "component",
    }  # fmt: skip
    assert all(issubclass(m, ResourceInputs) for m in RESOURCE_TYPES.values())
    assert EnvironmentInputs.kind == "environment" and PromotedDataInputs.kind == "data"


# -- endpoints -----------------------------------------------------------------------------


def _deployment(**over: Any) -> Props:
    return {"model": "digits-cnn", "model_digest": DIGEST, "code": "/src/training",
            "code_digest": "sha256:" + "c" * 64, "scoring_script": "score.py",
            "environment_variables": {}, **over}  # fmt: skip


def test_a_legacy_endpoint_state_against_todays_inputs_is_no_change() -> None:
    """The previous release's endpoint: stack/home/container at the top level, each
    deployment with the version it served, outputs beside the inputs."""
    legacy = {"stack": "dev", "home": "/old/checkout/.mlstack", "container": "mlstack-dev",
              "name": "digits", "traffic": {"blue": 100.0}, "mirror_traffic": {},
              "deployments": {"blue": _deployment(model_version="1")}, "health": "running",
              "port": 20123.0, "router_pid": 42.0, "scoring_uri": "http://127.0.0.1:20123/score",
              "running": {}, "primary_key": "k1", "secondary_key": "k2"}  # fmt: skip
    today = EndpointInputs(
        workspace=LOCAL, name="digits", traffic={"blue": 100}, health="running",
        deployments={"blue": DeploymentInputs.model_validate(_deployment())},
    )  # fmt: skip
    old = EndpointInputs.parse(legacy)
    assert old == today
    assert today.replaces(old) == []
