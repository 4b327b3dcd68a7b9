"""The rules as pulumi_policy policies, in the pack's own environment (still no engine).

The pack imports pulumi_policy, which only ``policy/.venv`` has (``make setup``), so this
runs a short script there: it builds the policies from a stack's config the way the pack
does at start-up, and feeds one validate callback a resource through pulumi_policy's own
argument types and unknown-checking proxy, as the engine's Analyze call would.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.unit.policy.conftest import PACK

SCRIPT = r"""
import json, os, sys
import pulumi.runtime
from pulumi_policy import PolicyResourceOptions, PolicyCustomTimeouts, ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy
from mlstack_policy import pack

# As `python -m pulumi.policy` sets up the runtime before it runs the pack.
pulumi.runtime.configure(pulumi.runtime.Settings(
    project=os.environ["PULUMI_PROJECT"], stack=os.environ["PULUMI_STACK"], dry_run=True))

settings = pack.stack_settings()
policies = {p.name: p for p in (pack.policy(rule, settings) for rule in pack.RULES)}
props = json.loads(sys.argv[1])
opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
args = ResourceValidationArgs(
    "pulumi-python:dynamic/mlstack:Workspace", unknown_checking_proxy(props),
    "urn:pulumi:s::mlstack::pulumi-python:dynamic/mlstack:Workspace::platform-workspace",
    "platform-workspace", opts, None,
)
reported = []
policies["required-tags"].validate(args, lambda message, urn=None: reported.append([message, urn]))
print(json.dumps({
    "stack": settings.stack,
    "levels": {name: p.enforcement_level.value for name, p in policies.items()},
    "reported": reported,
}))
"""


def run_pack(config: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PULUMI_CONFIG": json.dumps(config), "PULUMI_STACK": "s",
           "PULUMI_PROJECT": "mlstack", "PULUMI_DRY_RUN": "true"}  # fmt: skip
    result = subprocess.run(
        [str(PACK / ".venv" / "bin" / "python"), "-c", SCRIPT, json.dumps(props)],
        cwd=PACK, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_levels_follow_the_stack_config_and_violations_are_reported_on_the_resource() -> None:
    config = {
        "mlstack:policy": "prod",
        "mlstack:policyEnforcement": json.dumps({"default": "advisory", "models-by-promotion":
                                                 "mandatory", "instance-types": "disabled"}),
    }  # fmt: skip
    ran = run_pack(config, {"stack": "s", "tags": {"owner": "me"}})
    assert ran["levels"]["models-by-promotion"] == "mandatory"
    assert ran["levels"]["required-tags"] == "advisory"
    assert ran["levels"]["instance-types"] == "disabled"
    [[message, urn]] = ran["reported"]
    assert message.startswith("Workspace 'platform-workspace' lacks the tag cost-center")
    assert urn.endswith("::platform-workspace")


def test_a_standard_stack_runs_the_every_stack_policies_only() -> None:
    ran = run_pack({}, {"tags": {"owner": "me", "cost-center": "ml"}})
    assert ran["stack"] == "s" and ran["reported"] == []
    levels = ran["levels"]
    assert levels["required-tags"] == levels["compute-max-nodes"] == "mandatory"
    assert levels["models-by-promotion"] == levels["protect-stateful"] == "disabled"


def test_the_pack_folder_is_what_pulumi_runs() -> None:
    manifest = (PACK / "PulumiPolicy.yaml").read_text()
    assert "name: python-policy" in manifest and "virtualenv: .venv" in manifest
    assert Path(PACK / "__main__.py").is_file()
