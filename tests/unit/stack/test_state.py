"""A stack's state as ``pulumi stack export`` prints it, read into its live custom resources."""

from __future__ import annotations

import json
from pathlib import Path

from mlstack.stack.state import state_resources

STATE = Path(__file__).resolve().parents[2] / "fixtures" / "state-v0" / "upgrade.state.json"


def test_only_live_custom_resources_are_kept() -> None:
    exported = json.loads(STATE.read_text())
    found = state_resources(exported)
    assert sorted(r.name for r in found) == [
        "data-digits-test", "data-digits-train", "data-digits-val", "env-digits-env",
        "model-digits-cnn", "platform-workspace",
    ]  # fmt: skip
    by_name = {r.name: r for r in found}
    assert by_name["data-digits-val"].dynamic_type == "DataAsset"
    assert by_name["data-digits-val"].outputs["registered"] == ["1"]
    # The old half of a replacement is on its way out: not what the stack declares.
    pending = json.loads(json.dumps(exported))
    pending["deployment"]["resources"][-1]["delete"] = True
    assert len(state_resources(pending)) == len(found) - 1


def test_a_stack_never_deployed_has_no_resources() -> None:
    assert state_resources({"version": 3, "deployment": {"manifest": {}}}) == ()
    assert state_resources({}) == ()
