"""Which environment each target's stacks run pulumi with."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.project import Project
from mlstack.stack import Stack
from mlstack.stack.backend import environment


def test_local_stacks_run_offline_and_azure_ones_with_the_users_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://api.pulumi.com")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    project = Project(tmp_path)
    local = environment(project, "local")
    assert local["PULUMI_CONFIG_PASSPHRASE"]  # the offline settings
    assert local["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    azure = environment(project, "azure")
    assert "PULUMI_CONFIG_PASSPHRASE" not in azure
    assert azure["PULUMI_BACKEND_URL"] == "https://api.pulumi.com"  # the user's login
    assert azure["PATH"].startswith(str(tmp_path / ".tools" / "bin"))


def test_a_stack_runs_in_its_targets_environment(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  mlstack:target: azure\n")
    project = Project(tmp_path)
    assert Stack(project, "dev").backend.env == environment(project, "azure")
    assert Stack(project, "nofile").backend.env == environment(project, "local")
