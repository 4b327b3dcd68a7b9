"""What every asset provider shares (``providers/asset.py``), on each provider class.

``diff`` and ``check`` are called directly, as the engine calls them, with no workspace:
they decide on the typed inputs alone. Legacy states are the previous release's own
(``tests/fixtures/state-v0``); see tests/unit/config/test_resources.py for the models.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.config.resources import RESOURCE_TYPES
from mlstack.providers.asset import OUTPUT_KEYS, AssetProvider, property_path
from mlstack.providers.component import ComponentVersionProvider
from mlstack.providers.data_asset import DataAssetProvider
from mlstack.providers.environment import EnvironmentVersionProvider
from mlstack.providers.model_version import ModelVersionProvider
from mlstack.providers.promoted import PromotedDataProvider, PromotedModelProvider
from tests.unit.config.test_resources import LEGACY, todays_inputs

PROVIDERS: dict[str, type[AssetProvider]] = {
    p.inputs.resource_type: p
    for p in (DataAssetProvider, ModelVersionProvider, EnvironmentVersionProvider,
              PromotedDataProvider, PromotedModelProvider, ComponentVersionProvider)
}  # fmt: skip
DIGEST = "sha256:" + "a" * 64
LOCAL = LocalLocator(stack="dev", container="mlstack-dev")

Props = dict[str, Any]


def test_every_asset_resource_type_has_its_provider() -> None:
    assert set(PROVIDERS) == set(RESOURCE_TYPES) - {"LocalEndpoint"}


def _declared(provider: type[AssetProvider], props: Props) -> Props:
    """The news of a preview: checked inputs, output placeholders, the new pickle."""
    checked = provider().check({}, props)
    assert checked.failures == []
    return {**checked.inputs, **dict.fromkeys(OUTPUT_KEYS), "__provider": "new-pickle"}


@pytest.mark.parametrize(
    ("stack", "kind", "inputs", "outputs"), LEGACY,
    ids=[f"{s}-{k}-{i['name']}" for s, k, i, _ in LEGACY],
)  # fmt: skip
def test_a_legacy_state_diffed_against_todays_inputs_is_no_change(
    stack: str, kind: str, inputs: Props, outputs: Props
) -> None:
    """The previous release's state (home, stack and container in the inputs) against
    what today's program declares for the same content: nothing to do on `pulumi up`."""
    provider = PROVIDERS[kind]
    result = provider().diff(
        f"{stack}/x", outputs, _declared(provider, todays_inputs(stack, inputs))
    )
    assert result.changes is False and result.replaces == []


@pytest.mark.parametrize(
    ("stack", "kind", "inputs", "outputs"), LEGACY,
    ids=[f"{s}-{k}-{i['name']}" for s, k, i, _ in LEGACY],
)  # fmt: skip
def test_a_legacy_state_moved_to_another_workspace_is_a_replace(
    stack: str, kind: str, inputs: Props, outputs: Props
) -> None:
    provider = PROVIDERS[kind]
    moved = {
        **todays_inputs(stack, inputs),
        "workspace": LocalLocator(stack="elsewhere").model_dump(),
    }
    result = provider().diff(f"{stack}/x", outputs, _declared(provider, moved))
    assert result.changes is True and result.replaces == ["workspace"]


def _valid(kind: str) -> Props:
    """Minimal valid inputs of each kind."""
    props: Props = {"workspace": LOCAL.model_dump(), "name": "digits", "digest": DIGEST}
    if kind in ("DataAsset", "ModelVersion"):
        props |= {"type": "uri_folder", "source": "/src/digits"}
    if kind == "EnvironmentVersion":
        props |= {"image": "python:3.11-slim"}
    if kind == "ComponentVersion":
        props |= {"code_digest": DIGEST, "source": "/src/training"}
    if kind.startswith("Promoted"):
        props |= {"type": "uri_folder", "source_stack": "dev", "source_version": "1",
                  "source_workspace": LOCAL.model_dump()}  # fmt: skip
    return props


@pytest.mark.parametrize("kind", PROVIDERS)
def test_check_accepts_the_inputs_planning_declares(kind: str) -> None:
    result = PROVIDERS[kind]().check({}, _valid(kind))
    assert result.failures == []
    assert result.inputs["workspace"] == LOCAL.model_dump()


@pytest.mark.parametrize("kind", PROVIDERS)
@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"workspace": {"target": "local", "container": "c"}}, "workspace.stack"),
        ({"workspace": {"target": "azure", "subscription_id": "s", "workspace": "w"}},
         "workspace.resource_group"),
        ({"digest": "md5:0"}, "digest"),
        ({"tags": {"team": 1}}, "tags.team"),
        ({"name": "bad name"}, "name"),
    ],
    ids=["local locator", "azure locator", "digest", "tag", "name"],
)  # fmt: skip
def test_check_names_the_bad_property(kind: str, change: Props, named: str) -> None:
    failures = PROVIDERS[kind]().check({}, {**_valid(kind), **change}).failures
    assert [f.property for f in failures] == [named]
    assert failures[0].reason


@pytest.mark.parametrize("kind", PROVIDERS)
def test_check_names_each_missing_property(kind: str) -> None:
    failures = PROVIDERS[kind]().check({}, {}).failures
    assert {f.property for f in failures} == set(_valid(kind))
    assert all(f.reason == "Field required" for f in failures if f.property != "name")


@pytest.mark.parametrize(
    ("loc", "news", "path"),
    [
        (("workspace", "local", "stack"), {"workspace": {"target": "local"}}, "workspace.stack"),
        (("workspace", "azure", "datastore"), {"workspace": {"datastore": 1}},
         "workspace.datastore"),
        (("tags", "team"), {"tags": {"team": 1}}, "tags.team"),
        (("files",), {}, "files"),
        ((), {}, "inputs"),
    ],
)  # fmt: skip
def test_property_path_keeps_what_the_inputs_hold(
    loc: tuple[str, ...], news: Props, path: str
) -> None:
    assert property_path(loc, news) == path


@pytest.mark.parametrize("kind", PROVIDERS)
def test_only_the_locator_decides_where_an_asset_lives(kind: str) -> None:
    provider = PROVIDERS[kind]()
    olds = {**provider.check({}, _valid(kind)).inputs, "version": "1", "registered": ["1"]}
    azure = AzureLocator(subscription_id="s", resource_group="rg", workspace="ws")
    for locator in (LocalLocator(stack="dev", container="other"), azure):
        news = {**_valid(kind), "workspace": locator.model_dump()}
        assert provider.diff("x", olds, _declared(PROVIDERS[kind], news)).replaces == ["workspace"]
    assert provider.diff("x", olds, _declared(PROVIDERS[kind], _valid(kind))).changes is False
