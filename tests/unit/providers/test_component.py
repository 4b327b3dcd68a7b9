"""The ComponentVersion provider: diff on the digest over spec and code, never a replace."""

from __future__ import annotations

from typing import Any

from mlstack.config.components import component_digest
from mlstack.config.locator import LocalLocator
from mlstack.config.resources import ComponentInputs
from mlstack.providers.component import ComponentVersionProvider

SPEC: dict[str, Any] = {
    "type": "command",
    "command": "python train.py --epochs ${{inputs.epochs}}",
    "environment": "azureml:digits-env@latest",
    "inputs": {"epochs": {"type": "integer", "default": 8}},
    "outputs": {"model": {"type": "uri_folder"}},
    "is_deterministic": True,
}
CODE = "sha256:" + "c" * 64


def props(spec: dict[str, Any] = SPEC, code: str = CODE, **extra: Any) -> dict[str, Any]:
    inputs = ComponentInputs(
        workspace=LocalLocator(stack="dev"), name="train_digits", spec=spec,
        digest=component_digest(spec, code), code_digest=code, source="/src/training",
        **extra,
    )  # fmt: skip
    return {**inputs.to_props(), "version": "1", "registered": ["1"], "archived": False}


def test_the_same_spec_and_code_is_no_change_whatever_the_summary_says() -> None:
    old = props(changes="new component (+3 files)")
    result = ComponentVersionProvider().diff("id", old, props(changes="no changes (version 1)"))
    assert result.changes is False and result.replaces == []


def test_engine_doubles_in_the_spec_parse_back_to_the_same_inputs() -> None:
    old = props()
    old["spec"] = {**SPEC, "inputs": {"epochs": {"type": "integer", "default": 8.0}}}
    assert ComponentVersionProvider().diff("id", old, props()).changes is False


def test_a_code_or_spec_change_is_an_update_to_the_next_version_not_a_replace() -> None:
    provider = ComponentVersionProvider()
    for new in (
        props(code="sha256:" + "d" * 64),
        props({**SPEC, "inputs": {**SPEC["inputs"], "threshold": {"type": "number"}}}),
        props({**SPEC, "command": "python train.py"}),
    ):
        result = provider.diff("id", props(), new)
        assert result.changes is True and result.replaces == []
        old, parsed = ComponentInputs.parse(props()), ComponentInputs.parse(new)
        assert parsed.content_changed(old) == ["digest"]


def test_description_and_tags_change_in_place() -> None:
    old, new = ComponentInputs.parse(props()), ComponentInputs.parse(props(description="v2"))
    assert new.content_changed(old) == [] and new.metadata_changed(old) == ["description"]
    assert ComponentVersionProvider().diff("id", props(), props(description="v2")).changes


def test_another_workspace_replaces() -> None:
    moved = props()
    moved["workspace"] = LocalLocator(stack="elsewhere").model_dump()
    assert ComponentVersionProvider().diff("id", props(), moved).replaces == ["workspace"]
