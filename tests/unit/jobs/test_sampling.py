"""Samplers: seeded determinism, grid coverage, Azure's distributions and restrictions."""

from __future__ import annotations

import itertools
import math

import pytest

from mlstack.errors import ConfigError
from mlstack.jobs.sampling import make_sampler
from mlstack.jobs.spec import Parameter

SPACE = {
    "lr": Parameter("loguniform", min_value=math.log(1e-4), max_value=math.log(1e-2)),
    "batch": Parameter("choice", values=(16, 32, 64)),
    "layers": Parameter("randint", upper=4),
    "drop": Parameter("quniform", min_value=0.0, max_value=0.5, q=0.1),
    "noise": Parameter("normal", mu=0.0, sigma=1.0),
}


def drain(sampler: object) -> list[dict[str, object]]:
    out = []
    while (asked := sampler.ask()) is not None:  # type: ignore[attr-defined]
        out.append(asked[1])
        sampler.tell(asked[0], 0.5)  # type: ignore[attr-defined]
    return out


def test_random_sampling_is_seeded_and_within_the_space() -> None:
    first = drain(make_sampler("random", SPACE, 20, seed=1, goal="maximize"))
    assert first == drain(make_sampler("random", SPACE, 20, seed=1, goal="maximize"))
    assert first != drain(make_sampler("random", SPACE, 20, seed=2, goal="maximize"))
    assert len(first) == 20
    for p in first:
        assert 1e-4 <= float(p["lr"]) <= 1e-2  # type: ignore[arg-type]
        assert p["batch"] in (16, 32, 64) and p["layers"] in range(4)
        assert round(float(p["drop"]) * 10, 9) == round(float(p["drop"]) * 10)  # type: ignore[arg-type]


def test_grid_enumerates_every_combination_once() -> None:
    space = {
        "a": Parameter("choice", values=(1, 2, 3)),
        "b": Parameter("choice", values=("x", "y")),
    }
    grid = drain(make_sampler("grid", space, 100, seed=0, goal="maximize"))
    assert sorted((g["a"], g["b"]) for g in grid) == sorted(itertools.product((1, 2, 3), "xy"))
    assert len(drain(make_sampler("grid", space, 4, seed=0, goal="maximize"))) == 4


def test_bayesian_uses_optuna_deterministically() -> None:
    space = {"x": Parameter("uniform", min_value=-2, max_value=2),
             "c": Parameter("choice", values=("a", "b"))}  # fmt: skip

    def run(seed: int) -> list[dict[str, object]]:
        sampler = make_sampler("bayesian", space, 10, seed=seed, goal="minimize")
        seen = []
        while (asked := sampler.ask()) is not None:
            seen.append(asked[1])
            sampler.tell(asked[0], float(asked[1]["x"]) ** 2)  # type: ignore[arg-type]
        return seen

    assert run(5) == run(5) and len(run(5)) == 10
    assert all(-2 <= float(p["x"]) <= 2 for p in run(5))  # type: ignore[arg-type]


@pytest.mark.parametrize(("algorithm", "name"), [("grid", "lr"), ("bayesian", "noise")])
def test_a_space_the_algorithm_cannot_search_is_refused(algorithm: str, name: str) -> None:
    with pytest.raises(ConfigError, match=f"search_space.{name}"):
        make_sampler(algorithm, SPACE, 5, seed=0, goal="maximize")
