"""The policy pack in a ``pulumi preview`` that mlstack runs, and the violations it reports.

``mlstack review`` previews with ``--policy-pack policy``, so a pull request's comment shows
every guardrail a change breaks. The CLI leaves policy events out of ``--json`` output, so
the preview also writes its engine events to a file (``--event-log``, which needs
``PULUMI_DEBUG_COMMANDS``, as the Automation API sets it), and each violation comes back as
a diagnostic: an error when the policy is mandatory (the preview failed because of it), a
warning when it is advisory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstack.errors import MlstackError
from mlstack.project import Project

__all__ = ["PACK_FOLDER", "PolicyRun", "policy_pack", "violations"]

PACK_FOLDER = "policy"
_BLOCKING = frozenset({"mandatory", "remediate"})


@dataclass
class PolicyRun:
    """What to add to one ``pulumi preview``, and (after it) the violations it reported."""

    args: tuple[str, ...]
    env: dict[str, str]
    log: Path
    violations: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def policy_pack(project: Project) -> Iterator[PolicyRun]:
    """Flags and environment that run the project's policy pack; its violations on exit."""
    pack = project.root / PACK_FOLDER
    if not (pack / ".venv").is_dir():
        raise MlstackError(
            f"the policy pack's environment {pack / '.venv'} is missing: run `make setup`"
        )
    with tempfile.TemporaryDirectory(prefix="mlstack-policy-") as folder:
        log = Path(folder) / "events.jsonl"
        run = PolicyRun(
            args=("--policy-pack", str(pack), "--event-log", str(log)),
            env={"PULUMI_DEBUG_COMMANDS": "true"},
            log=log,
        )
        yield run
        run.violations = violations(log)


def violations(log: Path) -> list[dict[str, str]]:
    """The policy events of an engine event log, as preview diagnostics."""
    try:
        lines = log.read_text().splitlines()
    except FileNotFoundError:
        return []  # the engine never started (e.g. an unknown stack): nothing was checked
    found = []
    for line in lines:
        try:
            event: Any = json.loads(line)
        except ValueError:
            continue  # a line cut short by a killed preview
        policy = event.get("policyEvent") if isinstance(event, dict) else None
        if not isinstance(policy, dict):
            continue
        level = str(policy.get("enforcementLevel") or "")
        blocking = level in _BLOCKING
        text = " — ".join(s.strip() for s in str(policy.get("message", "")).splitlines() if s)
        shown = "mandatory" if blocking else "advisory"
        found.append({
            "severity": "error" if blocking else "warning",
            "message": f"policy {policy.get('policyName')} ({shown}): {text}",
        })  # fmt: skip
    return found
