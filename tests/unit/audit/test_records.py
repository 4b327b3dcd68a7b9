"""Which deployments serve a version (from a stack's outputs), and promotion hops."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mlstack.audit.graph import Serving
from mlstack.audit.records import promotion_chain, serving
from mlstack.project import HOME_ENV, Project
from mlstack.stack import Stack
from tests.unit.audit.records import PROMOTION, version

REPO = Path(__file__).resolve().parents[3]
MODELS = {"digits-cnn": {"version": "3"}}


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """A project with the shipped endpoint `digits` (deployment `blue` serves digits-cnn)."""
    (tmp_path / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    shutil.copytree(REPO / "assets" / "endpoints", tmp_path / "assets" / "endpoints")
    shutil.copytree(REPO / "training", tmp_path / "training")
    monkeypatch.setenv(HOME_ENV, str(tmp_path / ".mlstack"))
    return Stack(Project(tmp_path), "s")


def test_traffic_comes_from_the_stacks_endpoints_output(stack: Stack) -> None:
    outputs: dict[str, Any] = {"models": MODELS, "endpoints": {
        "digits": {"traffic": {"blue": 100}, "scoring_uri": "http://h/score"}}}  # fmt: skip
    assert serving(stack, version(), outputs) == (
        Serving("digits", "blue", 100, "http://h/score", declared=False),
    )


def test_a_stack_that_exports_no_deployed_endpoint_serves_nothing(stack: Stack) -> None:
    assert serving(stack, version(), {"models": MODELS, "endpoints": {}}) == ()


def test_without_an_endpoints_output_the_declared_traffic_is_marked(stack: Stack) -> None:
    [served] = serving(stack, version(), {"models": MODELS})  # an azure stack's outputs
    assert (served.endpoint, served.deployment, served.declared) == ("digits", "blue", True)
    assert served.traffic == 100


def test_a_version_the_stack_does_not_declare_is_not_served(stack: Stack) -> None:
    outputs = {"models": {"digits-cnn": {"version": "2"}}, "endpoints": {
        "digits": {"traffic": {"blue": 100}}}}  # fmt: skip
    assert serving(stack, version(), outputs) == ()
    assert serving(stack, version(), {}) == ()


def test_an_unreadable_source_stack_is_a_hop_with_a_note(stack: Stack) -> None:
    hops, notes = promotion_chain(stack, version(promotion=PROMOTION, number="1"))
    assert [(h[0], h[1]) for h in hops] == [("local", None)]
    assert hops[0][2]["source_version"] == "3"
    [note] = notes
    assert note.startswith("source stack 'local' could not be read: ")
    assert promotion_chain(stack, version()) == ((), ())
