"""Batch files are checked with every other spec, on both targets, before anything runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlstack.config.stack import load_stack_config
from mlstack.errors import ConfigError
from mlstack.program.assets import load_specs
from mlstack.project import Project

ROOT = Path(__file__).resolve().parents[3]


def test_a_broken_batch_file_fails_a_local_preview_with_the_other_problems(
    tmp_path: Path,
) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    for kind in ("models", "endpoints"):
        shutil.copytree(ROOT / "assets" / kind, tmp_path / "assets" / kind)
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "score.py").write_text("def init(): ...\ndef run(raw): ...\n")
    (tmp_path / "training" / "batch_score.py").write_text("def init(): ...\n")
    online = tmp_path / "assets" / "endpoints" / "digits.yaml"
    online.write_text(online.read_text().replace("blue: 100", "blue: 90"))
    config = load_stack_config("local", {"description": "d", "tags": {"env": "local"}})
    with pytest.raises(ConfigError) as raised:
        load_specs(config, Project(tmp_path))
    found = {(p.file, p.field) for p in raised.value.problems}
    assert (
        "assets/endpoints/digits-batch-default.yaml",
        "code_configuration.scoring_script",
    ) in found
    assert ("assets/endpoints/digits.yaml", "traffic") in found  # one error lists both


def test_the_shipped_batch_endpoint_is_among_the_specs(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(ROOT / "assets" / "endpoints", tmp_path / "assets" / "endpoints")
    shutil.copytree(ROOT / "training", tmp_path / "training")
    config = load_stack_config("local", {"description": "d", "tags": {"env": "local"}})
    specs = load_specs(config, Project(tmp_path))
    assert [e.name for e in specs.endpoints] == ["digits"]
    assert [e.name for e in specs.batch] == ["digits-batch"]
