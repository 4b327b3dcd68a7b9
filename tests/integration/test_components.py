"""Components as versioned assets through the real pulumi engine on a local stack."""

from __future__ import annotations

import shutil

import pytest
import yaml

from mlstack.project import Project
from tests.integration.conftest import Pulumi

pytestmark = pytest.mark.integration


def _changes(pulumi: Pulumi) -> str:
    steps = [
        s for s in pulumi.preview_steps() if s.get("urn", "").endswith("component-train_digits")
    ]
    assert len(steps) == 1, steps
    return str(steps[0]["newState"]["inputs"]["changes"])


def test_a_component_is_versioned_by_its_parsed_spec_and_its_code(
    pulumi: Pulumi, project: Project
) -> None:
    shutil.copytree(project.root / "assets" / "components", pulumi.cwd / "assets" / "components")
    shutil.copytree(project.root / "training", pulumi.cwd / "training",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    spec = pulumi.cwd / "assets" / "components" / "train.yaml"

    pulumi.run("up", "--yes")
    assert pulumi.outputs()["components"] == {"train_digits": "azureml:train_digits:1"}
    pulumi.run("preview", "--expect-no-changes")

    # A reformat: comments gone, keys sorted, the folded command one plain line.
    spec.write_text(yaml.safe_dump(yaml.safe_load(spec.read_text()), sort_keys=True, width=4096))
    pulumi.run("preview", "--expect-no-changes")

    train = pulumi.cwd / "training" / "train.py"
    train.write_text(train.read_text() + "\n# a changed line\n")
    assert _changes(pulumi) == "code: 1 changed since version 1"
    pulumi.run("up", "--yes")
    assert pulumi.outputs()["components"] == {"train_digits": "azureml:train_digits:2"}
