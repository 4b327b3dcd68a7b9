"""``mlstack endpoint keys``: the endpoint's outputs, secrets decrypted, from the real backend."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mlstack.cli import app
from mlstack.errors import MlstackError
from mlstack.project import Project
from tests.support.stacks import deploy, secret

DIGITS = {"scoring_uri": "http://127.0.0.1:9/score", "traffic": {"blue": 100},
          "primary_key": secret("key-one"), "secondary_key": secret("key-two")}  # fmt: skip


@pytest.fixture
def deployed(stack_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    project = stack_project
    (project.root / "stacks" / "Pulumi.s.yaml").write_text("config:\n  mlstack:target: local\n")
    deploy(project, "s", {"endpoints": {"digits": DIGITS}, "target": "local"})
    monkeypatch.chdir(project.root)
    monkeypatch.setenv("COLUMNS", "200")
    return project


def test_keys_are_read_from_the_stack_outputs_decrypted(deployed: Project) -> None:
    result = CliRunner().invoke(app, ["endpoint", "keys", "digits"])  # the selected stack
    assert result.exit_code == 0, result.output
    assert "scoring uri   http://127.0.0.1:9/score" in result.output
    assert "primary key   key-one" in result.output
    assert "secondary key key-two" in result.output


def test_an_unknown_endpoint_and_a_stack_never_deployed(deployed: Project) -> None:
    result = CliRunner().invoke(app, ["endpoint", "keys", "nope", "-s", "s"])
    assert isinstance(result.exception, MlstackError)
    assert "stack 's' has no endpoint 'nope' (endpoints: digits)" in str(result.exception)
    result = CliRunner().invoke(app, ["endpoint", "keys", "digits", "-s", "fresh"])
    assert isinstance(result.exception, MlstackError)
    assert "run `pulumi stack init fresh` and `pulumi up -s fresh` first" in str(result.exception)
