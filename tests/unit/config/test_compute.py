"""Compute cluster specs read with azure-ai-ml's ``load_compute``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.config.compute import load_compute_specs
from mlstack.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_cluster_scales_to_zero() -> None:
    (spec,) = load_compute_specs(ROOT)
    assert spec.name == "cpu-cluster"
    assert spec.size == "Standard_DS3_v2"
    assert (spec.min_instances, spec.max_instances, spec.idle_seconds) == (0, 4, 120)
    assert spec.tier == "Dedicated"
    assert spec.idle_duration == "PT120S"


def test_defaults_and_low_priority(tmp_path: Path) -> None:
    folder = tmp_path / "assets" / "compute"
    write(folder, "a.yaml", "name: gpu\ntype: amlcompute\nsize: Standard_NC6\ntier: low_priority\n")
    (spec,) = load_compute_specs(tmp_path)
    assert (spec.min_instances, spec.tier) == (0, "LowPriority")


def test_missing_folder_declares_nothing(tmp_path: Path) -> None:
    assert load_compute_specs(tmp_path) == ()


def test_every_problem_in_every_file_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "assets" / "compute"
    write(folder, "a.yaml", "name: c1\ntype: amlcompute\nmin_instances: 5\nmax_instances: 2\n")
    write(folder, "b.yaml", "name: 9bad\ntype: amlcompute\n")
    write(folder, "c.yaml", "name: vm\ntype: computeinstance\nsize: Standard_DS3_v2\n")
    write(folder, "d.yaml", "name: c1\ntype: amlcompute\nbogus: 1\n")
    write(folder, "e.yaml", "name: c2\ntype: amlcompute\n")
    write(folder, "f.yaml", "name: C2\ntype: amlcompute\n")
    with pytest.raises(ConfigError) as caught:
        load_compute_specs(tmp_path)
    found = {(p.file, p.field): p.reason for p in caught.value.problems}
    assert "exceeds max_instances" in found[("assets/compute/a.yaml", "min_instances")]
    assert "not a valid compute name" in found[("assets/compute/b.yaml", "name")]
    assert "amlcompute" in found[("assets/compute/c.yaml", "type")]
    assert "Unknown field" in found[("assets/compute/d.yaml", "bogus")]
    assert "also declared in assets/compute/e.yaml" in found[("assets/compute/f.yaml", "name")]
    assert len(found) == 5
