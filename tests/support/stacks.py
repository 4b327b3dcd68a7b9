"""Stacks on a real file backend under tmp, for tests of what reads them (registered by
``tests/conftest.py``).

``stack_project`` is a project of its own: the repo's toolchain, an mlstack home (and so a
state backend) in tmp, no Pulumi variable of the developer's. :func:`deploy` gives a stack
outputs as if ``pulumi up`` had exported them — ``pulumi stack init``, then ``pulumi stack
import`` of a state whose secrets the stack's own passphrase provider encrypts — so no
program runs and each stack costs a few CLI calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlstack.project import HOME_ENV, Project

if TYPE_CHECKING:
    from pulumi import automation as auto

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Pulumi.yaml").write_text("name: unit\nruntime: python\nstackConfigDir: stacks\n")
    (root / ".tools").symlink_to(REPO / ".tools")
    (root / "stacks").mkdir()
    for variable in ("PULUMI_BACKEND_URL", "PULUMI_HOME", "PULUMI_CONFIG_PASSPHRASE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    project = Project(root)
    (project.home / "state").mkdir(parents=True)
    return project


def automation(project: Project) -> auto.LocalWorkspace:
    """The Automation API's workspace the Stack object uses for local stacks."""
    from mlstack.stack.backend import Backend, environment  # noqa: PLC0415

    return Backend(project, environment(project, "local")).workspace()


def deploy(project: Project, name: str, outputs: dict[str, Any]) -> None:
    """``name`` in the backend (now the selected stack), holding ``outputs``."""
    ws = automation(project)
    ws.create_stack(name)
    state = ws.export_stack(name)
    urn = f"urn:pulumi:{name}::unit::pulumi:pulumi:Stack::unit-{name}"
    state.deployment["resources"] = [
        {"urn": urn, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": outputs}
    ]
    ws.import_stack(name, state)


def secret(value: str) -> dict[str, str]:
    """A secret as a deployment carries it before encryption."""
    return {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            "plaintext": json.dumps(value)}  # fmt: skip
