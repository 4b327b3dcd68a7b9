"""The LocalEndpoint provider's ``diff``, called directly: what starts or moves servers.

No process is started here (serving is tested in tests/unit/serving); ``diff`` decides on
the typed inputs alone, and a state of the previous release (stack, home and container
at the top level) upgrades without a restart.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlstack.config.locator import LocalLocator
from mlstack.config.resources import DeploymentInputs, EndpointInputs
from mlstack.providers.endpoint import LocalEndpointProvider

DIGEST = "sha256:" + "a" * 64
LOCAL = LocalLocator(stack="dev", container="mlstack-dev")
OUTPUTS = {"port": 20123.0, "router_pid": 42.0, "scoring_uri": "http://127.0.0.1:20123/score",
           "running": {}, "primary_key": "k1", "secondary_key": "k2"}  # fmt: skip

Props = dict[str, Any]


def _deployment(**over: Any) -> Props:
    return {"model": "digits-cnn", "model_digest": DIGEST, "code": "/src/training",
            "code_digest": "sha256:" + "c" * 64, "scoring_script": "score.py",
            "environment_variables": {}, "model_version": "1", **over}  # fmt: skip


def _news(**over: Any) -> Props:
    """What the program declares (``LocalEndpoint``): the inputs, each deployment with the
    version it serves, output placeholders, the pickled provider."""
    inputs = EndpointInputs(
        workspace=LOCAL, name="digits", traffic={"blue": 100}, health="running",
        deployments={"blue": DeploymentInputs.model_validate(_deployment())},
    )  # fmt: skip
    props = inputs.to_props()
    props["deployments"]["blue"]["model_version"] = "1"
    return {**props, **dict.fromkeys(OUTPUTS), "__provider": "new-pickle", **over}


def _legacy(**over: Any) -> Props:
    """The same endpoint in a state of the previous release (numbers as doubles)."""
    return {"stack": "dev", "home": "/old/checkout/.mlstack", "container": "mlstack-dev",
            "name": "digits", "traffic": {"blue": 100.0}, "mirror_traffic": {},
            "deployments": {"blue": _deployment()}, "health": "running", **OUTPUTS,
            "__provider": "old-pickle", **over}  # fmt: skip


def test_a_legacy_state_with_another_home_is_no_change() -> None:
    result = LocalEndpointProvider().diff("dev/endpoint/digits", _legacy(), _news())
    assert result.changes is False and result.replaces == []


def test_todays_state_against_the_same_inputs_is_no_change() -> None:
    olds = {**_news(), **OUTPUTS, "__provider": "old-pickle"}
    assert LocalEndpointProvider().diff("id", olds, _news()).changes is False


@pytest.mark.parametrize(
    ("news", "replaces"),
    [
        (_news(workspace=LocalLocator(stack="other").model_dump()), ["workspace"]),
        (_news(name="digits2"), ["name"]),
    ],
    ids=["workspace", "name"],
)
def test_another_workspace_or_name_replaces_delete_first(news: Props, replaces: list[str]) -> None:
    result = LocalEndpointProvider().diff("id", _legacy(), news)
    assert result.changes is True and result.replaces == replaces
    assert result.delete_before_replace is True


@pytest.mark.parametrize(
    "deployment",
    [{"model_digest": "sha256:" + "b" * 64}, {"code_digest": "sha256:" + "d" * 64},
     {"scoring_script": "serve.py"}, {"environment_variables": {"WORKERS": "2"}}],
    ids=["model", "code", "script", "environment"],
)  # fmt: skip
def test_a_changed_deployment_rolls_in_place(deployment: Props) -> None:
    news = _news()
    news["deployments"]["blue"] |= deployment
    result = LocalEndpointProvider().diff("id", _legacy(), news)
    assert result.changes is True and result.replaces == []


@pytest.mark.parametrize(
    "change", [{"traffic": {"blue": 50}}, {"mirror_traffic": {"blue": 10}}, {"health": "down"}]
)
def test_traffic_and_health_are_updates(change: Props) -> None:
    result = LocalEndpointProvider().diff("id", _legacy(), _news(**change))
    assert result.changes is True and result.replaces == []


def test_an_endpoint_observed_down_is_restarted_even_after_a_refresh_recorded_it() -> None:
    refreshed = {**_legacy(), "health": "down"}  # `pulumi refresh` read the processes dead
    assert LocalEndpointProvider().diff("id", refreshed, _news(health="down")).changes is True
    assert LocalEndpointProvider().diff("id", _legacy(), _news()).changes is False


def test_where_the_code_sits_on_this_machine_is_no_change() -> None:
    news = _news()
    news["deployments"]["blue"]["code"] = "/moved/checkout/training"
    assert LocalEndpointProvider().diff("id", _legacy(), news).changes is False
