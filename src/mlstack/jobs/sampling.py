"""Hyperparameter sampling: Azure ML's search-space expressions and sampling algorithms.

Distributions follow the service's definitions: ``uniform(min, max)``,
``quniform`` (``round(uniform / q) * q``), ``loguniform(min, max)`` (``exp(uniform(min,
max))``: the bounds are natural logs), ``qloguniform``, ``normal(mu, sigma)``,
``qnormal``, ``lognormal`` (``exp(normal)``), ``qlognormal``, ``randint(upper)``
(an integer in ``[0, upper)``) and ``choice(values)``.

- ``random``: independent draws from a seeded ``random.Random`` (same seed, same trials).
- ``grid``: every combination of ``choice`` values, in order; only ``choice`` is allowed,
  as on the service.
- ``bayesian``: optuna's TPE sampler through its ask/tell interface, told each finished
  trial's objective. As on the service, only ``choice``, ``uniform`` and ``quniform``
  are allowed, and no early termination policy (checked in :mod:`mlstack.jobs.spec`).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from mlstack.errors import ConfigError, Problem
from mlstack.jobs.spec import Parameter, Scalar

__all__ = ["Sampler", "make_sampler"]

_BAYESIAN = {"choice", "uniform", "quniform"}  # what the service's bayesian sampling takes


class Sampler(Protocol):
    def ask(self) -> tuple[int, dict[str, Scalar]] | None:
        """The next trial's number and parameters; None when the space is exhausted."""

    def tell(self, number: int, value: float | None) -> None:
        """The trial's objective (None: it failed or was stopped without a value)."""


def _round(value: float, q: float | None) -> float:
    return round(value / q) * q if q else value


def draw(parameter: Parameter, rng: random.Random) -> Scalar:
    """One value of ``parameter`` under the service's definition of its distribution."""
    kind, p = parameter.type, parameter
    if kind == "choice":
        return rng.choice(p.values)  # type: ignore[no-any-return]
    if kind == "randint":
        return rng.randrange(p.upper)
    if kind in ("uniform", "quniform"):
        return _round(rng.uniform(p.min_value, p.max_value), p.q)
    if kind in ("loguniform", "qloguniform"):
        return _round(math.exp(rng.uniform(p.min_value, p.max_value)), p.q)
    if kind in ("normal", "qnormal"):
        return _round(rng.gauss(p.mu, p.sigma), p.q)
    if kind in ("lognormal", "qlognormal"):
        return _round(math.exp(rng.gauss(p.mu, p.sigma)), p.q)
    raise ValueError(f"unknown search space type {kind!r}")


class RandomSampler:
    def __init__(self, space: Mapping[str, Parameter], limit: int, seed: int) -> None:
        self.space, self.limit, self.rng = space, limit, random.Random(seed)  # noqa: S311 - not for secrets
        self._next = 0

    def ask(self) -> tuple[int, dict[str, Scalar]] | None:
        if self._next >= self.limit:
            return None
        params = {name: draw(p, self.rng) for name, p in sorted(self.space.items())}
        self._next += 1
        return self._next - 1, params

    def tell(self, number: int, value: float | None) -> None:
        pass


class GridSampler:
    def __init__(self, space: Mapping[str, Parameter], limit: int) -> None:
        names = sorted(space)
        combos = itertools.product(*(space[n].values for n in names))
        self._grid: Iterator[tuple[int, dict[str, Scalar]]] = (
            (i, dict(zip(names, combo, strict=True))) for i, combo in enumerate(combos)
        )
        self.limit = limit

    def ask(self) -> tuple[int, dict[str, Scalar]] | None:
        item = next(self._grid, None)
        return item if item is not None and item[0] < self.limit else None

    def tell(self, number: int, value: float | None) -> None:
        pass


class BayesianSampler:
    """optuna TPE, seeded; the study lives in memory for the duration of the sweep."""

    def __init__(self, space: Mapping[str, Parameter], limit: int, seed: int, goal: str) -> None:
        import optuna  # noqa: PLC0415 - only bayesian sweeps pay for the import

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(4, limit))
        self.study = optuna.create_study(
            direction="maximize" if goal == "maximize" else "minimize", sampler=sampler
        )
        self.space, self.limit = space, limit
        self._trials: dict[int, Any] = {}

    def _distribution(self, p: Parameter) -> Any:
        d = self._optuna.distributions
        if p.type == "choice":
            return d.CategoricalDistribution(list(p.values))
        return d.FloatDistribution(p.min_value, p.max_value, step=p.q)

    def ask(self) -> tuple[int, dict[str, Scalar]] | None:
        if len(self._trials) >= self.limit:
            return None
        trial = self.study.ask({n: self._distribution(p) for n, p in sorted(self.space.items())})
        self._trials[trial.number] = trial
        return trial.number, dict(trial.params)

    def tell(self, number: int, value: float | None) -> None:
        state = self._optuna.trial.TrialState
        if value is None or math.isnan(value):
            self.study.tell(self._trials[number], state=state.FAIL)
        else:
            self.study.tell(self._trials[number], value)


def make_sampler(
    algorithm: str, space: Mapping[str, Parameter], limit: int, *, seed: int, goal: str,
    source: str = "",
) -> Sampler:  # fmt: skip
    """The sampler for ``algorithm``; a space it cannot search is a ConfigError."""
    if algorithm == "random":
        return RandomSampler(space, limit, seed)
    if algorithm == "grid":
        bad = sorted(n for n, p in space.items() if p.type != "choice")
        if bad:
            reason = "grid sampling takes only choice()"
            raise ConfigError([Problem(source, f"search_space.{n}", reason) for n in bad])
        return GridSampler(space, limit)
    if algorithm == "bayesian":
        bad = sorted(n for n, p in space.items() if p.type not in _BAYESIAN)
        if bad:
            reason = f"bayesian sampling takes only {', '.join(sorted(_BAYESIAN))}"
            raise ConfigError([Problem(source, f"search_space.{n}", reason) for n in bad])
        return BayesianSampler(space, limit, seed, goal)
    raise ConfigError([Problem(source, "sampling_algorithm",
                               f"{algorithm!r}: use random, grid or bayesian")])  # fmt: skip
