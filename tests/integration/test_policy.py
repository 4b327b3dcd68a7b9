"""The policy pack through the real CLI: `pulumi preview --policy-pack policy` on local stacks.

Each stack is a copy of the project (its ``policy`` folder links the real pack, with its own
environment), so the command is the one the README gives. Azure-only policies cannot meet
an azure stack here (no azure-native plugin); tests/unit/policy runs them over the inputs
the azure program declares.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mlstack.project import Project
from mlstack.workspace.local import LocalWorkspace
from tests.integration.conftest import Pulumi, add_data, local_config, new_stack

pytestmark = pytest.mark.integration

PACK = ("--policy-pack", "policy")
ARTEFACT = Path(__file__).resolve().parents[1] / "fixtures" / "state-v0" / "artefact"
MODEL = "digits-cnn"


def _stack_file(cli: Pulumi) -> Path:
    return cli.cwd / "stacks" / f"Pulumi.{cli.stack}.yaml"


def _edit(cli: Pulumi, old: str, new: str) -> None:
    text = _stack_file(cli).read_text()
    assert old in text
    _stack_file(cli).write_text(text.replace(old, new, 1))


def _export(cli: Pulumi) -> dict[str, Any]:
    return dict(json.loads(cli.run("stack", "export", "--stack", cli.stack).stdout))


def _violations(output: str) -> list[str]:
    """The preview's policy lines, e.g. ``[mandatory]  required-tags  (<type>: <name>)``."""
    return [line.strip() for line in output.splitlines() if line.strip().startswith("- [")]


def _review(cli: Pulumi, out: Path) -> tuple[int, str]:
    result = subprocess.run(
        [str(cli.cwd / ".venv" / "bin" / "mlstack"), "review", "-s", cli.stack, "-o", str(out)],
        cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return result.returncode, out.read_text()


def test_a_mandatory_violation_fails_the_preview_and_changes_nothing(
    pulumi: Pulumi, project: Project, digits: Path, tmp_path: Path
) -> None:
    add_data(pulumi, project, digits)

    # Within its guardrails: the preview passes the pack, and so does `pulumi up`.
    passed = pulumi.run("preview", *PACK)
    assert "mlstack@v0.1.0" in passed.stdout and _violations(passed.stdout) == []
    pulumi.run("up", "--yes", *PACK)
    before = _export(pulumi)
    catalog = Path(pulumi.outputs()["catalog"])

    # A change that drops a required tag: the preview fails, naming policy and resource.
    _edit(pulumi, "    cost-center: ml-research\n", "")
    _edit(pulumi, "Offline mlstack workspace", "Untagged mlstack workspace")
    failed = pulumi.run("preview", *PACK, check=False)
    assert failed.returncode != 0
    [line] = _violations(failed.stdout)
    assert line.startswith("- [mandatory]  required-tags  (")
    assert line.endswith("mlstack:Workspace: platform-workspace)")
    assert "Workspace 'platform-workspace' lacks the tag cost-center" in failed.stdout

    # `pulumi up` stops at the same violation: the state and the workspace stay as they were.
    refused = pulumi.run("up", "--yes", *PACK, check=False)
    assert refused.returncode != 0 and "required-tags" in refused.stdout
    after = _export(pulumi)
    assert after["deployment"]["resources"] == before["deployment"]["resources"]
    with sqlite3.connect(catalog) as db:
        [(description, tags)] = db.execute("SELECT description, tags FROM workspace").fetchall()
    assert "Offline mlstack workspace" in description and "cost-center" in tags

    # The pull-request review shows the violation as the reason the preview failed.
    code, markdown = _review(pulumi, tmp_path / "review.md")
    assert code == 1
    assert "policy required-tags (mandatory): " in markdown
    assert "Workspace 'platform-workspace' lacks the tag cost-center" in markdown


def test_an_advisory_violation_is_a_warning_and_the_preview_passes(
    project: Project, azurite: object, azurite_home: Path, tmp_path: Path
) -> None:
    config = local_config(project).replace("    cost-center: ml-research\n", "")
    config += "  mlstack:policyEnforcement:\n    required-tags: advisory\n"
    cli = new_stack(project.root, tmp_path / "project", azurite_home, config)
    try:
        warned = cli.run("preview", *PACK)
        [line] = _violations(warned.stdout)
        assert line.startswith("- [advisory]  required-tags  (")
        assert "lacks the tag cost-center" in warned.stdout

        code, markdown = _review(cli, tmp_path / "review.md")
        assert code == 0
        assert "policy required-tags (advisory): " in markdown
        assert "Preview failed" not in markdown
    finally:
        cli.run("stack", "rm", "--yes", "--force", cli.stack, check=False)


def test_a_prod_stack_takes_models_by_promotion_with_pinned_lineage_only(
    project: Project, azurite: object, azurite_home: Path, tmp_path: Path
) -> None:
    # A source stack registers the fixture artefact, whose lineage pins no environment.
    source = new_stack(project.root, tmp_path / "project", azurite_home, local_config(project))
    shutil.copytree(project.root / "assets" / "models", source.cwd / "assets" / "models")
    shutil.copytree(ARTEFACT, source.cwd / "outputs" / MODEL)
    prod = replace(source, stack=f"{source.stack}-prod")
    try:
        source.run("up", "--yes")
        version = LocalWorkspace.open(azurite_home, source.stack).models.get(MODEL, "1")

        # A production stack registering the training folder itself.
        tags = "  mlstack:tags:\n    owner: ml-platform\n    cost-center: ml-platform\n"
        _stack_file(prod).write_text(f"config:\n  mlstack:policy: prod\n{tags}")
        prod.run("stack", "init", prod.stack)
        folder = prod.run("preview", *PACK, check=False)
        assert folder.returncode != 0
        lines = _violations(folder.stdout)
        assert (
            "- [mandatory]  models-by-promotion  (pulumi-python:dynamic/mlstack:ModelVersion: "
            "model-digits-cnn)"
        ) in lines
        assert f"`mlstack promote {MODEL} --from <stack> --to {prod.stack}`" in folder.stdout

        # Promoted instead, pinned by digest: promotion passes; the source's lineage does not.
        pin = (f"  mlstack:modelSource: promotion\n  mlstack:promotions:\n    models:\n"
               f"      {MODEL}:\n        from: {source.stack}\n        version: '1'\n"
               f"        digest: {version.digest}\n")  # fmt: skip
        _stack_file(prod).write_text(f"config:\n  mlstack:policy: prod\n{tags}{pin}")
        promoted = prod.run("preview", *PACK, check=False)
        assert promoted.returncode != 0
        [line] = _violations(promoted.stdout)
        assert line == (
            "- [mandatory]  model-lineage  (pulumi-python:dynamic/mlstack:PromotedModel: "
            "model-digits-cnn)"
        )
        assert "data digits-train:1 has no sha256 digest" in promoted.stdout
        assert "its lineage names no environment version" in promoted.stdout
        assert "model-gates" not in promoted.stdout  # test.accuracy 0.97 passes its 0.95

        # A version trained on pinned inputs, as train.py records them, passes every policy.
        pinned = {
            "data": [{"name": "digits-train", "version": "1", "digest": version.digest,
                      "role": "train"}],
            "environment": {"name": "digits-env", "version": "1", "digest": version.digest},
            "code": {"revision": "fixture"}, "parameters": {"epochs": 1, "seed": 42},
        }  # fmt: skip
        (source.cwd / "outputs" / MODEL / "lineage.json").write_text(json.dumps(pinned))
        source.run("up", "--yes")
        second = LocalWorkspace.open(azurite_home, source.stack).models.get(MODEL, "2")
        pin = pin.replace("'1'", "'2'").replace(version.digest, second.digest)
        _stack_file(prod).write_text(f"config:\n  mlstack:policy: prod\n{tags}{pin}")
        clean = prod.run("preview", *PACK)
        assert "mlstack@v0.1.0" in clean.stdout and _violations(clean.stdout) == []
    finally:
        prod.run("stack", "rm", "--yes", "--force", prod.stack, check=False)
        source.run("destroy", "--yes", check=False)
        source.run("stack", "rm", "--yes", "--force", source.stack, check=False)
