"""Promotion between two local stacks through the real engine: pinned, copied, refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from mlstack.project import Project
from mlstack.workspace.local import LocalWorkspace
from tests.integration.conftest import Pulumi, add_data
from tests.integration.test_models import MODEL, UNREACHABLE, _lineage, _set_gate, _train

pytestmark = pytest.mark.integration


def _mlstack(cli: Pulumi, project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), *args], cwd=cli.cwd, env=cli.env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_promote_from_one_stack_to_another(pulumi: Pulumi, project: Project, digits: Path) -> None:
    add_data(pulumi, project, digits)
    for folder in ("environments", "models", "endpoints"):
        shutil.copytree(project.root / "assets" / folder, pulumi.cwd / "assets" / folder)
    shutil.copytree(project.root / "training", pulumi.cwd / "training")
    _set_gate(pulumi, 0.5)
    pulumi.run("up", "--yes")
    _train(pulumi, project, seed=1)
    pulumi.run("up", "--yes")
    home = Path(pulumi.env["MLSTACK_HOME"])
    source = LocalWorkspace.open(home, pulumi.stack).models.get(MODEL, "1")

    # A production stack beside it, configured like the shipped local-prod.
    prod = replace(pulumi, stack=f"{pulumi.stack}-prod")
    template = (project.root / "stacks" / "Pulumi.local-prod.yaml").read_text()
    config = "\n".join(x for x in template.splitlines() if not x.startswith("encryptionsalt"))
    prod_file = pulumi.cwd / "stacks" / f"Pulumi.{prod.stack}.yaml"
    prod_file.write_text(config + "\n")
    prod.run("stack", "init", prod.stack)
    pristine = prod_file.read_text()
    try:
        # A version below its gate is refused, and the target's file stays as it was.
        _set_gate(pulumi, UNREACHABLE)
        refused = _mlstack(
            pulumi, project, "promote", MODEL, "--from", pulumi.stack, "--to", prod.stack
        )
        assert refused.returncode == 1 and "fails its gates" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert prod_file.read_text() == pristine
        _set_gate(pulumi, 0.5)

        promoted = _mlstack(
            pulumi, project, "promote", MODEL, "--from", pulumi.stack, "--to", prod.stack
        )
        assert promoted.returncode == 0, promoted.stderr
        assert f"+        digest: {source.digest}" in promoted.stdout  # the reviewable diff
        assert source.digest in prod_file.read_text()

        prod.run("up", "--yes")
        assert prod.outputs()["models"][MODEL]["digest"] == source.digest
        lineage = _lineage(prod, project, MODEL)
        assert lineage["promotion"]["source_stack"] == pulumi.stack
        assert lineage["promotion"]["source_version"] == "1"
        assert lineage["data"] == _lineage(pulumi, project, f"{MODEL}:1")["data"]
        prod.run("preview", "--expect-no-changes")

        # The production endpoint serves the promoted model.
        endpoint = json.loads(prod.run("stack", "output", "endpoints", "--show-secrets", "--json",
                                       "--stack", prod.stack).stdout)["digits"]  # fmt: skip
        request = json.loads((project.root / "assets/endpoints/sample-request.json").read_text())
        auth = {"Authorization": f"Bearer {endpoint['primary_key']}"}
        answer = httpx.post(endpoint["scoring_uri"], json=request, headers=auth, timeout=60)
        assert answer.status_code == 200
        assert len(answer.json()["predictions"]) == len(request["data"])

        # A tampered pin is refused at preview; nothing changes in the target.
        text = prod_file.read_text()
        tampered = source.digest[:-1] + ("0" if source.digest[-1] != "0" else "1")
        prod_file.write_text(text.replace(source.digest, tampered))
        failed = prod.run("up", "--yes", check=False)
        assert failed.returncode != 0
        assert "the pin was edited or the source changed" in failed.stdout + failed.stderr
        target = LocalWorkspace.open(home, prod.stack).models
        assert [v.version for v in target.list(MODEL)] == ["1"]
        prod_file.write_text(text)

        # An archived source version is refused too.
        LocalWorkspace.open(home, pulumi.stack).models.set_archived(MODEL, "1", True)
        archived = _mlstack(pulumi, project, "promote", MODEL, "--from", pulumi.stack,
                            "--to", prod.stack, "--version", "1")  # fmt: skip
        assert archived.returncode == 1 and "is archived" in archived.stderr
    finally:
        prod.run("destroy", "--yes", check=False)
        prod.run("stack", "rm", "--yes", "--force", prod.stack, check=False)
