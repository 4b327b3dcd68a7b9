"""Policy violations read back from a preview's engine event log."""

from __future__ import annotations

import json
from pathlib import Path

from mlstack.cli.guardrails import policy_pack, violations
from mlstack.project import Project


def event(policy: str, level: str, message: str) -> str:
    body = {"policyName": policy, "policyPackName": "mlstack", "enforcementLevel": level,
            "message": message, "resourceUrn": "urn:pulumi:s::mlstack::t::r"}  # fmt: skip
    return json.dumps({"sequence": 3, "timestamp": 0, "policyEvent": body})


def test_mandatory_violations_are_errors_and_advisory_ones_warnings(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("\n".join([
        json.dumps({"sequence": 1, "preludeEvent": {"config": {}}}),
        event("required-tags", "mandatory", "Tags.\nWorkspace 'w' lacks the tag owner."),
        event("compute-max-nodes", "advisory", "Limit.\nCompute 'c' scales to 9 nodes."),
        '{"sequence": 4, "policyEv',  # cut short by a killed preview
    ]))  # fmt: skip
    assert violations(log) == [
        {"severity": "error",
         "message": "policy required-tags (mandatory): Tags. — Workspace 'w' lacks the tag owner."},
        {"severity": "warning",
         "message": "policy compute-max-nodes (advisory): Limit. — Compute 'c' scales to 9 nodes."},
    ]  # fmt: skip


def test_no_log_means_nothing_was_checked(tmp_path: Path) -> None:
    assert violations(tmp_path / "absent.jsonl") == []


def test_the_run_names_the_projects_pack_and_reads_its_log_on_exit(tmp_path: Path) -> None:
    (tmp_path / "policy" / ".venv").mkdir(parents=True)
    with policy_pack(Project(tmp_path)) as run:
        assert run.args[:2] == ("--policy-pack", str(tmp_path / "policy"))
        assert run.args[2:] == ("--event-log", str(run.log))
        run.log.write_text(event("instance-types", "mandatory", "Sizes.\nX uses Y."))
    assert [v["severity"] for v in run.violations] == ["error"]
    assert not run.log.exists()  # a temporary file, gone with the run
