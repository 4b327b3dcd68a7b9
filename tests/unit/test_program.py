"""The program under ``pulumi.runtime.set_mocks``: what a local stack declares."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from mlstack.config.stack import load_stack_config
from mlstack.program import build
from mlstack.project import HOME_ENV, Project

ROOT = Path(__file__).resolve().parents[2]


class Recorder(Mocks):
    def __init__(self) -> None:
        self.types: list[str] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.types.append(args.typ)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        raise AssertionError(f"the local target invokes nothing, yet called {args.token}")


pytestmark = pytest.mark.usefixtures("event_loop_for_pulumi")


@pytest.fixture(autouse=True)
def _reset_runtime() -> Iterator[None]:
    yield
    pulumi.runtime.settings.reset_options()


def test_the_local_stack_declares_no_azure_native_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline means offline: no azure-native plugin is needed to preview a local stack."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    for kind in ("environments", "models", "compute", "endpoints", "components"):  # all but data,
        shutil.copytree(ROOT / "assets" / kind, tmp_path / "assets" / kind)  # which needs files
    shutil.copytree(ROOT / "training", tmp_path / "training")  # the endpoints' scoring code
    shutil.copytree(ROOT / "steps", tmp_path / "steps")  # the pipeline steps' code
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="mlstack", stack="local", preview=True)
    config = load_stack_config("local", {"description": "d", "tags": {"env": "local"}})

    @pulumi.runtime.test  # type: ignore[misc]
    def run() -> None:
        build(config, Project(tmp_path))

    run()
    assert "pulumi-python:dynamic/mlstack:Workspace" in mocks.types
    assert "pulumi-python:dynamic/mlstack:EnvironmentVersion" in mocks.types
    assert "pulumi-python:dynamic/mlstack:ComponentVersion" in mocks.types
    assert not [t for t in mocks.types if t.startswith("azure-native:")]
