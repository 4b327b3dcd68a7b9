"""The components the project ships: they load, and each step has a code folder of its own,
so changing one step's code changes only that step's digest (and so its reuse)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mlstack.config.components import ComponentSpec, load_component_specs

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def shipped() -> dict[str, ComponentSpec]:
    return {spec.name: spec for spec in load_component_specs(ROOT)}


def test_the_pipeline_steps_load(shipped: dict[str, ComponentSpec]) -> None:
    assert sorted(shipped) == ["evaluate_digits", "prep_digits", "train_digits"]
    for spec in shipped.values():
        assert spec.spec["is_deterministic"] is True
        assert spec.spec["environment"] == "azureml:digits-env@latest"
    ports = {
        name: (sorted(s.spec["inputs"]), sorted(s.spec["outputs"])) for name, s in shipped.items()
    }
    assert ports["prep_digits"] == (["test", "train", "val"], ["test", "train", "val"])
    assert ports["evaluate_digits"] == (["model", "test", "val"], ["model"])
    for name in ("prep_digits", "evaluate_digits"):
        ports_of = [*shipped[name].spec["inputs"].values(), *shipped[name].spec["outputs"].values()]
        assert {port["type"] for port in ports_of} == {"uri_folder"}


def test_each_component_has_its_own_code_folder(shipped: dict[str, ComponentSpec]) -> None:
    for a, b in itertools.permutations(shipped.values(), 2):
        assert not a.code.is_relative_to(b.code), f"{a.name}'s code is inside {b.name}'s"


def test_each_command_runs_a_script_in_its_code_folder(shipped: dict[str, ComponentSpec]) -> None:
    for spec in shipped.values():
        program, script = spec.spec["command"].split()[:2]
        assert program == "python" and (spec.code / script).is_file(), spec.name
