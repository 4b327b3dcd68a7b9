"""The route table: which source serves each pair of targets, and why the others are refused.

Choosing a route reads the two stack files only: nothing is opened or signed in to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.errors import PromotionError
from mlstack.project import Project
from mlstack.promotion.route import source_for
from mlstack.promotion.source import WorkspaceSource
from mlstack.stack import Stack

LOCAL = "config:\n  mlstack:target: local\n"
ATTACHED = """\
config:
  mlstack:target: azure
  mlstack:azure:
    mode: attach
    subscriptionId: 00000000-0000-0000-0000-00000000000{n}
    resourceGroup: rg-{name}
    workspaceName: mlw-{name}
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: unit\nruntime: python\nstackConfigDir: stacks\n")
    for name in ("local", "local-prod"):
        (root / "stacks" / f"Pulumi.{name}.yaml").write_text(LOCAL)
    for n, name in enumerate(("dev", "prod"), start=1):
        (root / "stacks" / f"Pulumi.{name}.yaml").write_text(ATTACHED.format(n=n, name=name))
    return Project(root)


@pytest.mark.parametrize(("source", "target"), [("local", "local-prod"), ("dev", "prod")])
def test_local_to_local_and_azure_to_azure_read_the_source_workspace(
    project: Project, source: str, target: str
) -> None:
    route = source_for(Stack(project, source), Stack(project, target))
    assert isinstance(route, WorkspaceSource)
    assert route.stack == source


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ("local", "prod", "stack 'local' is local: its content lives in Azurite on this machine, "
         "which Azure cannot copy from. Promote into 'prod' from an azure stack"),
        ("dev", "local-prod", "stack 'local-prod' is local and 'dev' is on Azure: mlstack does "
         "not copy Azure content onto this machine"),
    ],
)  # fmt: skip
def test_between_a_local_and_an_azure_stack_is_refused_with_the_reason(
    project: Project, source: str, target: str, reason: str
) -> None:
    with pytest.raises(PromotionError) as caught:
        source_for(Stack(project, source), Stack(project, target))
    assert reason in str(caught.value)
    assert (caught.value.source, caught.value.target) == (source, target)
