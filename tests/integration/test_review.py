"""`mlstack review` on real previews, checked against the structure of the preview itself."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlstack.project import Project
from tests.integration.conftest import Pulumi, add_data

pytestmark = pytest.mark.integration

DATA_TYPE = "pulumi-python:dynamic/mlstack:DataAsset"
WORKSPACE_TYPE = "pulumi-python:dynamic/mlstack:Workspace"


def _review(cli: Pulumi, out: Path) -> tuple[int, str]:
    """The real CLI, as a user runs it from the project folder."""
    mlstack = str(cli.cwd / ".venv" / "bin" / "mlstack")
    result = subprocess.run(
        [mlstack, "review", "-s", cli.stack, "--output", str(out)],
        cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return result.returncode, out.read_text()


def _preview(cli: Pulumi) -> dict[str, Any]:
    return dict(json.loads(cli.run("preview", "--json").stdout))


def _sections(markdown: str) -> dict[str, str]:
    """Section heading → its text (the part before the first section is under "")."""
    parts = re.split(r"^#### (.+)$", markdown, flags=re.MULTILINE)
    return {"": parts[0], **dict(zip(parts[1::2], parts[2::2], strict=True))}


def _rows(section: str) -> list[list[str]]:
    """Data rows of the section's table, cells stripped."""
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def _changing(preview: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in preview["steps"] if s["op"] not in ("same", "read", "refresh")]


def _type(step: dict[str, Any]) -> str:
    return str((step.get("newState") or step["oldState"])["type"])


def _edit_stack_file(cli: Pulumi, old: str, new: str) -> None:
    path = cli.cwd / "stacks" / f"Pulumi.{cli.stack}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_review_follows_the_preview(
    pulumi: Pulumi, project: Project, digits: Path, tmp_path: Path
) -> None:
    data = add_data(pulumi, project, digits)
    pulumi.run("up", "--yes")

    # Nothing to do: the stack's comment is its heading and "No changes." only.
    code, markdown = _review(pulumi, tmp_path / "same.md")
    assert code == 0
    assert markdown.split(f"### Stack `{pulumi.stack}`", 1)[1].strip() == "No changes."

    # One PNG and the workspace description change.
    changed = next((data / "val" / "3").iterdir())
    changed.write_bytes(next((data / "val" / "4").iterdir()).read_bytes())
    _edit_stack_file(pulumi, "Offline mlstack workspace", "Reviewed mlstack workspace")
    preview = _preview(pulumi)
    code, markdown = _review(pulumi, tmp_path / "update.md")
    assert code == 0, markdown
    sections = _sections(markdown)

    steps = _changing(preview)
    assert {_type(s) for s in steps} == {DATA_TYPE, WORKSPACE_TYPE}  # what this test set up
    total = len({s["urn"] for s in steps})
    assert f"**{total} change{'s' if total != 1 else ''}**" in sections[""]
    for op in sorted({s["op"] for s in steps}):
        assert f"{sum(s['op'] == op for s in steps)} to {op}" in sections[""]
    assert "Needs attention" not in markdown  # no replace, no delete

    assets = {row[0].strip("`"): row for row in _rows(sections["Data assets"])}
    updated = [s for s in steps if _type(s) == DATA_TYPE]
    assert sorted(assets) == sorted(s["newState"]["inputs"]["name"] for s in updated)
    for step in updated:
        inputs, old = step["newState"]["inputs"], step["oldState"]
        row = assets[inputs["name"]]
        assert row[-1] == inputs["changes"]  # e.g. "1 changed since version 1"
        assert row[1] == f"v{old['outputs']['version']} → next"
        assert row[2].startswith(f"{inputs['files']} files")

    infra = _rows(sections["Infrastructure"])
    workspace = next(s for s in steps if _type(s) == WORKSPACE_TYPE)
    olds, news = workspace["oldState"]["inputs"], workspace["newState"]["inputs"]
    differing = sorted(k for k in news if k != "__provider" and olds.get(k) != news[k])
    assert infra == [
        ["`mlstack:Workspace`", f"`{workspace['urn'].rsplit('::', 1)[1]}`", "update",
         ", ".join(f"`{k}`" for k in differing)]
    ]  # fmt: skip
    assert differing == ["description"]

    # A new container replaces the workspace and every asset in it: all flagged first.
    _edit_stack_file(pulumi, "config:\n", "config:\n  mlstack:container: reviewed-elsewhere\n")
    preview = _preview(pulumi)
    code, markdown = _review(pulumi, tmp_path / "replace.md")
    assert code == 0, markdown
    replaced = [s for s in _changing(preview) if s["op"] in ("replace", "create-replacement")]
    assert replaced, "a container change must replace resources"
    attention = markdown.index("#### ⚠ Needs attention")
    assert all(attention < markdown.index(f"#### {h}") for h in _sections(markdown) if h
               and not h.startswith("⚠"))  # fmt: skip
    flagged = _rows(_sections(markdown)["⚠ Needs attention"])
    names = {
        s["urn"].rsplit("::", 1)[1]
        if _type(s) == WORKSPACE_TYPE
        else s["newState"]["inputs"]["name"]
        for s in replaced
    }
    assert {row[2].strip("`") for row in flagged} == names
    # The workspace names its container; each asset names the workspace (its locator) it
    # lives in, which the new container changes.
    workspace_name = next(
        s["urn"].rsplit("::", 1)[1] for s in replaced if _type(s) == WORKSPACE_TYPE
    )
    for row in flagged:
        reason = "`container`" if row[2].strip("`") == workspace_name else "`workspace`"
        assert row[0] == "**replace**" and reason in row[3], row


def test_a_failed_preview_is_reported_with_its_problems(pulumi: Pulumi, tmp_path: Path) -> None:
    _edit_stack_file(pulumi, "mlstack:target: local", "mlstack:target: nowhere")
    preview = json.loads(pulumi.run("preview", "--json", check=False).stdout)
    errors = [d for d in preview["diagnostics"] if d["severity"] == "error"]
    assert errors

    code, markdown = _review(pulumi, tmp_path / "failed.md")
    assert code == 1  # the comment is written, and CI sees the failure
    failed = _sections(markdown)["❌ Preview failed"]
    assert "mlstack:target" in failed
    for diagnostic in errors:
        first = diagnostic["message"].removeprefix("error: ").splitlines()[0]
        assert first in failed
