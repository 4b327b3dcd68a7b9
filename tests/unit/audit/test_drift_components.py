"""Drift of component versions: the same findings and fixes as the other kinds."""

from __future__ import annotations

from tests.unit.audit.test_drift import DIGEST, STATE, WORKSPACE, asset, drift, version

COMPONENT = asset("ComponentVersion", "train_digits", "1", DIGEST["a"],
                  code_digest=DIGEST["b"], spec={})  # fmt: skip


def test_a_component_version_registered_behind_the_stacks_back_is_an_orphan() -> None:
    workspace = [*WORKSPACE, version("component", "train_digits", "1", DIGEST["a"]),
                 version("component", "train_digits", "2", DIGEST["f"])]  # fmt: skip
    [found] = drift(state=[*STATE, COMPONENT], workspace=workspace)
    assert (found.kind, found.subject) == ("orphan", "component train_digits:2")
    assert "assets/components/" in found.fixes[0]
    assert found.fixes[1] == (
        "or archive it: `mlstack component archive train_digits:2 -s dev` (`restore` undoes it)"
    )


def test_the_current_component_version_gone_from_the_workspace() -> None:
    [found] = drift(state=[*STATE, COMPONENT], workspace=WORKSPACE)
    assert (found.kind, found.subject) == ("missing", "component train_digits:1")
