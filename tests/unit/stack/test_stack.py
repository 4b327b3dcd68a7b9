"""The Stack object on a real file backend under tmp, through the real Automation API.

No program runs: stacks get their outputs from ``tests.support.stacks.deploy``, so each
test costs a few CLI calls.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.errors import ConfigError, NotFoundError, StackError, ToolchainError
from mlstack.project import Project
from mlstack.stack import Stack, open_stack
from mlstack.stack.backend import Backend, environment
from tests.support.stacks import automation, deploy, secret

REPO = Path(__file__).resolve().parents[3]
LOCAL = "config:\n  mlstack:target: local\n  mlstack:description: unit stack\n"
AZURE = """\
config:
  mlstack:target: azure
  mlstack:azure:
    subscriptionId: 00000000-0000-0000-0000-000000000001
    resourceGroup: rg
    workspaceName: mlw-dev
    mode: attach
"""


@pytest.fixture
def project(stack_project: Project) -> Project:
    return stack_project


def _stack(project: Project, name: str, config: str = LOCAL) -> Stack:
    (project.root / "stacks" / f"Pulumi.{name}.yaml").write_text(config)
    return Stack(project, name)


def test_config_comes_from_the_stack_file(project: Project) -> None:
    stack = _stack(project, "s")
    assert stack.config.description == "unit stack"
    assert stack.target == "local"
    assert stack.locator == LocalLocator(stack="s", container="mlstack-s")
    assert stack.require_file() is stack

    azure = _stack(project, "dev", AZURE)
    assert azure.target == "azure"
    assert isinstance(azure.locator, AzureLocator) and azure.locator.workspace == "mlw-dev"

    # No file: the local target's defaults for reading, and a clear error where one is needed.
    missing = Stack(project, "nofile")
    assert missing.config.target == "local"
    with pytest.raises(StackError, match=r"stacks/Pulumi.nofile.yaml does not exist: create"):
        missing.require_file()


def test_an_invalid_config_still_names_its_target(project: Project) -> None:
    """The target picks the environment a preview runs in; the preview reports the rest."""
    stack = _stack(project, "s", "config:\n  mlstack:target: nowhere\n")
    assert stack.target == "nowhere"
    with pytest.raises(ConfigError, match="mlstack:target"):
        _ = stack.config


def test_the_workspace_of_a_stack_never_brought_up(project: Project) -> None:
    with pytest.raises(NotFoundError, match=r"run `pulumi up -s s` first"):
        _stack(project, "s").workspace()


def test_the_selected_stack_is_the_one_pulumi_selected(project: Project) -> None:
    with pytest.raises(StackError, match=r"no stack is selected: pass -s STACK"):
        open_stack(None, project)
    deploy(project, "first", {})
    deploy(project, "second", {})  # `stack init` selects the stack it makes
    assert open_stack(None, project).name == "second"
    assert open_stack("first", project).name == "first"


def test_outputs_with_secrets_decrypted_and_nothing_selected(project: Project) -> None:
    endpoint = {"scoring_uri": "http://127.0.0.1:9/score", "primary_key": secret("k-1")}
    deploy(project, "s", {"endpoints": {"digits": endpoint}, "workspace": "mlw-s"})
    deploy(project, "other", {})
    stack = _stack(project, "s")

    assert stack.output("endpoints") == {
        "digits": {"scoring_uri": "http://127.0.0.1:9/score", "primary_key": "k-1"}
    }
    assert stack.outputs()["workspace"] == "mlw-s"
    # Reading a stack never selects it (`auto.Stack.select` would).
    assert open_stack(None, project).name == "other"
    # The state holds the key encrypted, never in plaintext.
    state = json.dumps(automation(project).export_stack("s").deployment)
    assert "k-1" in state  # export --show-secrets decrypts …
    stored = next((project.home / "state").rglob("s.json")).read_text()
    assert "k-1" not in stored and "ciphertext" in stored  # … the file on disk does not

    with pytest.raises(StackError, match=r"has no output 'models' \(outputs: endpoints, "):
        stack.output("models")


def test_a_stack_never_deployed_says_so(project: Project) -> None:
    with pytest.raises(StackError, match=r"never deployed; run `pulumi stack init s` and "):
        _stack(project, "s").outputs()
    deploy(project, "empty", {})
    with pytest.raises(StackError, match=r"'empty' has no outputs: it was never deployed; run"):
        _stack(project, "empty").outputs()


def test_a_wrong_passphrase_says_which_variable(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(project, "s", {"key": secret("k")})
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "not-the-passphrase")
    with pytest.raises(StackError, match=r"set PULUMI_CONFIG_PASSPHRASE to its passphrase"):
        _stack(project, "s").outputs()


def test_a_backend_not_logged_in_or_unreachable(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://api.pulumi.com")
    with pytest.raises(StackError, match=r"not logged in to https://api.pulumi.com, .*`pulumi lo"):
        _stack(project, "s").outputs()
    missing = (project.home / "nowhere").as_uri()
    monkeypatch.setenv("PULUMI_BACKEND_URL", missing)
    with pytest.raises(StackError, match=rf"cannot reach {missing}, the Pulumi backend"):
        _stack(project, "t").outputs()
    with pytest.raises(StackError, match=rf"cannot ask {missing} which stack is selected"):
        open_stack(None, project)


def test_a_failed_preview_is_one_error_diagnostic(project: Project) -> None:
    preview = _stack(project, "s").preview_json()
    assert preview["steps"] == []
    [diagnostic] = preview["diagnostics"]
    assert diagnostic["severity"] == "error"
    assert "no stack named 's' found" in diagnostic["message"]
    assert "(pulumi exited" in diagnostic["message"]


def _fake_cli(folder: Path, version: str) -> None:
    folder.mkdir(parents=True)
    cli = folder / "pulumi"
    cli.write_text(f"#!/bin/sh\necho {version}\n")
    cli.chmod(cli.stat().st_mode | stat.S_IEXEC)


def test_the_cli_must_carry_a_version_the_automation_api_accepts(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A CLI built without the version ldflag reports a version the Automation API refuses."""
    _fake_cli(tmp_path / "unstamped" / "bin", "")  # an unstamped build prints no version
    env = {**os.environ, "PATH": str(tmp_path / "unstamped" / "bin")}
    with pytest.raises(ToolchainError, match=r"refused by the Automation API .*`make setup`"):
        Backend(project, env).workspace()
    broken = tmp_path / "broken" / "bin"
    _fake_cli(broken, "v3.0.0")
    (broken / "pulumi").write_text("#!/bin/sh\nexit 3\n")
    with pytest.raises(ToolchainError, match=r"pulumi CLI at .* does not run .*`make setup`"):
        Backend(project, {**os.environ, "PATH": str(broken)}).workspace()
    with pytest.raises(ToolchainError, match=r"no pulumi CLI found: run `make setup`"):
        Backend(project, {"PATH": str(tmp_path / "empty")}).workspace()
    # The project's own build is accepted.
    built = Backend(project, environment(project, "local")).workspace()
    assert built.pulumi_version == (REPO / "tools/pulumi/VERSION").read_text().strip().lstrip("v")
