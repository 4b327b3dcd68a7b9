"""Job specs: a CLI v2 command or sweep job YAML, loaded by azure-ai-ml, as frozen values.

``azure.ai.ml.load_job`` validates the file against the service's own schema (so a file
that loads here is one ``az ml job create -f`` accepts); its normalised ``_to_dict()``
is then read into the small value objects below, which the local runner, the sweeper
and the Azure submission all share. Nothing else in mlstack touches azure-ai-ml's
entities, whose classes change between releases.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlstack.config.specfile import SpecKind, loader_problems
from mlstack.config.yamlfile import duplicate_problems
from mlstack.errors import ConfigError, Problem

__all__ = [
    "AssetInput",
    "EarlyTermination",
    "JobSpec",
    "Limits",
    "OutputSpec",
    "Parameter",
    "Scalar",
    "SweepSpec",
    "load_spec",
]

ASSET_PREFIX = "azureml:"
_PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z0-9_]+)\s*\}\}")
Scalar = str | int | float | bool


@dataclass(frozen=True)
class AssetInput:
    """A data input: ``azureml:NAME:VERSION`` / ``azureml:NAME@latest``, or a local path."""

    type: str
    path: str
    mode: str | None = None

    @property
    def asset_ref(self) -> str | None:
        """``NAME:VERSION`` or ``NAME@latest`` when the input names a registered asset.

        ``load_job`` writes a local ``path: ./data`` as ``azureml:./data``; a registered
        name never holds a slash nor starts with a dot, so those are local paths.
        """
        if not self.path.startswith(ASSET_PREFIX) or self.path.startswith("azureml://"):
            return None
        rest = self.path.removeprefix(ASSET_PREFIX)
        return None if "/" in rest or rest.startswith((".", "file:", "~")) else rest

    def local_path(self, base: Path) -> Path | None:
        """The file or folder on disk a non-asset input names (relative to ``base``)."""
        if self.asset_ref is not None or self.path.startswith("azureml://"):
            return None
        rest = self.path.removeprefix(ASSET_PREFIX).removeprefix("file:")
        return (base / rest).expanduser().resolve()


@dataclass(frozen=True)
class OutputSpec:
    type: str = "uri_folder"
    path: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class Parameter:
    """One search-space dimension, in Azure ML's vocabulary (``type`` plus its fields)."""

    type: str
    values: tuple[Any, ...] = ()
    min_value: float = 0.0
    max_value: float = 0.0
    q: float | None = None
    mu: float = 0.0
    sigma: float = 1.0
    upper: int = 0


@dataclass(frozen=True)
class Limits:
    max_total_trials: int = 1
    max_concurrent_trials: int = 1
    timeout: float | None = None
    """Seconds for the whole sweep."""
    trial_timeout: float | None = None


@dataclass(frozen=True)
class EarlyTermination:
    """``bandit``, ``median_stopping`` or ``truncation_selection`` and their fields."""

    type: str
    evaluation_interval: int = 1
    delay_evaluation: int = 0
    slack_factor: float = 0.0
    slack_amount: float = 0.0
    truncation_percentage: int = 0
    exclude_finished_jobs: bool = False


@dataclass(frozen=True)
class SweepSpec:
    sampling_algorithm: str
    search_space: Mapping[str, Parameter]
    goal: Literal["maximize", "minimize"]
    primary_metric: str
    limits: Limits
    early_termination: EarlyTermination | None = None
    seed: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """A command job, or the trial of a sweep job (then ``sweep`` is set)."""

    source: Path
    """The YAML file; relative paths in it are relative to its folder."""
    command: str
    code: Path | None
    environment: str | None
    compute: str | None
    inputs: Mapping[str, AssetInput | Scalar] = field(default_factory=dict)
    outputs: Mapping[str, OutputSpec] = field(default_factory=dict)
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    sweep: SweepSpec | None = None

    @property
    def kind(self) -> str:
        return "sweep" if self.sweep else "command"

    def placeholders(self) -> set[tuple[str, str]]:
        """The ``${{inputs.x}}`` style references the command makes, as (group, name)."""
        return {(m[1], m[2]) for m in _PLACEHOLDER.finditer(self.command)}


def substitute(command: str, values: Mapping[tuple[str, str], str]) -> str:
    """Replace each ``${{group.name}}`` by ``values[(group, name)]`` (already shell-quoted)."""

    def one(match: re.Match[str]) -> str:
        return values[(match[1], match[2])]

    return _PLACEHOLDER.sub(one, command)


def _environment(raw: Any) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    raise ConfigError([Problem("", "environment", "name a registered environment: "
                               "azureml:NAME:VERSION or azureml:NAME@latest")])  # fmt: skip


def _inputs(raw: Mapping[str, Any]) -> dict[str, AssetInput | Scalar]:
    out: dict[str, AssetInput | Scalar] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping) and "path" in value:
            out[name] = AssetInput(str(value.get("type", "uri_folder")), str(value["path"]),
                                   value.get("mode"))  # fmt: skip
        elif isinstance(value, Mapping):
            out[name] = value.get("default", "")
        else:
            out[name] = value
    return out


def _outputs(raw: Mapping[str, Any]) -> dict[str, OutputSpec]:
    return {
        name: OutputSpec(str(v.get("type", "uri_folder")), v.get("path"), v.get("mode"))
        for name, v in (raw or {}).items()
        if isinstance(v, Mapping)
    }


def _parameter(raw: Mapping[str, Any]) -> Parameter:
    kind = str(raw["type"])
    values = tuple(raw.get("values", ()))
    return Parameter(
        kind, values, float(raw.get("min_value", 0.0)), float(raw.get("max_value", 0.0)),
        float(raw["q"]) if raw.get("q") is not None else None, float(raw.get("mu", 0.0)),
        float(raw.get("sigma", 1.0)), int(raw.get("upper", 0)),
    )  # fmt: skip


def _sweep(raw: Mapping[str, Any]) -> SweepSpec:
    limits = raw.get("limits") or {}
    policy = raw.get("early_termination")
    objective = raw["objective"]
    goal = str(objective["goal"]).lower()
    sampling = raw.get("sampling_algorithm", "random")
    algorithm = sampling.get("type", "random") if isinstance(sampling, Mapping) else sampling
    seed = sampling.get("seed") if isinstance(sampling, Mapping) else None
    return SweepSpec(
        sampling_algorithm=str(algorithm).lower(),
        search_space={k: _parameter(v) for k, v in raw["search_space"].items()},
        goal="maximize" if goal == "maximize" else "minimize",
        primary_metric=str(objective["primary_metric"]),
        limits=Limits(
            int(limits.get("max_total_trials") or 1),
            int(limits.get("max_concurrent_trials") or 1),
            limits.get("timeout"),
            limits.get("trial_timeout"),
        ),
        early_termination=EarlyTermination(
            str(policy["type"]),
            int(policy.get("evaluation_interval") or 1),
            int(policy.get("delay_evaluation") or 0),
            float(policy.get("slack_factor") or 0.0),
            float(policy.get("slack_amount") or 0.0),
            int(policy.get("truncation_percentage") or 0),
            bool(policy.get("exclude_finished_jobs") or False),
        )
        if policy
        else None,
        seed=int(seed) if seed is not None else None,
    )


def _field_reason(field: str, said: str) -> str | None:
    """A pipeline step's component file that is absent, in a sentence instead of a page."""
    if field.endswith(".component") and (
        missing := re.search(r"No such file or directory: ([^'\]]+)", said)
    ):
        return (
            f"{missing[1]} is not a file: give the component YAML's path relative to the job file"
        )
    return None


JOB = SpecKind(
    noun="job",
    help_url="https://learn.microsoft.com/azure/machine-learning/reference-yaml-overview",
    schema="CLI v2 job schema",
    field_reason=_field_reason,
)


def load_entity(path: Path) -> Any:
    """azure-ai-ml's own entity for the file (validated against the CLI v2 schema).

    Duplicate keys are refused first: ``load_job`` would keep the last value silently.
    """
    if not path.is_file():
        raise ConfigError([Problem(str(path), "", "no such job file")])
    if duplicates := duplicate_problems(path, str(path)):
        raise ConfigError(duplicates)
    from azure.ai.ml import load_job  # noqa: PLC0415 - heavy import, only when loading jobs
    from azure.ai.ml.exceptions import ValidationException  # noqa: PLC0415
    from marshmallow import ValidationError  # noqa: PLC0415

    # azure-ai-ml logs a line per experimental schema class it meets; not the user's concern
    logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)
    try:
        return load_job(source=path)
    except (ValidationException, ValidationError) as error:
        problems = [Problem(str(path), f, reason) for f, reason in loader_problems(error, JOB)]
        raise ConfigError(problems) from None
    except (ValueError, KeyError) as error:
        raise ConfigError([Problem(str(path), "", f"not a valid CLI v2 job: {error}")]) from None
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", "no such job file")]) from None


def load_spec(path: Path, entity: Any | None = None) -> JobSpec:
    """Load a command or sweep job YAML; problems are reported as a ConfigError.

    ``entity`` is :func:`load_entity`'s result when the caller already loaded the file.
    """
    path = path.resolve()
    raw: dict[str, Any] = dict((entity if entity is not None else load_entity(path))._to_dict())
    kind = raw.get("type")
    if kind == "command":
        body = raw.get("component", {})
        command = body.get("command") or raw.get("command")
        code = body.get("code") or raw.get("code")
        env_vars = raw.get("environment_variables") or {}
        sweep = None
    elif kind == "sweep":
        body = raw["trial"]
        command, code = body.get("command"), body.get("code")
        env_vars = body.get("environment_variables") or {}
        sweep = _sweep(raw)
    else:
        raise ConfigError([Problem(str(path), "type", f"{kind!r} jobs are not supported: "
                                   "use a command or sweep job")])  # fmt: skip
    if not command:
        raise ConfigError([Problem(str(path), "command", "a job needs a command")])
    spec = JobSpec(
        source=path,
        command=" ".join(str(command).split()),
        code=Path(str(code).removeprefix("file:")).resolve() if code else None,
        environment=_environment(raw.get("environment") or body.get("environment")),
        compute=raw.get("compute"),
        inputs=_inputs(raw.get("inputs") or {}),
        outputs=_outputs(raw.get("outputs") or {}),
        environment_variables={str(k): str(v) for k, v in env_vars.items()},
        name=raw.get("name"),
        display_name=raw.get("display_name"),
        experiment_name=raw.get("experiment_name"),
        sweep=sweep,
    )
    _check(spec)
    return spec


def _check(spec: JobSpec) -> None:
    """Every placeholder the command uses must be declared: report all missing at once."""
    declared = {
        "inputs": set(spec.inputs),
        "outputs": set(spec.outputs),
        "search_space": set(spec.sweep.search_space) if spec.sweep else set(),
    }
    problems = [
        Problem(str(spec.source), f"command: ${{{{{group}.{name}}}}}",
                f"is not declared under {group}: declare it or remove it from the command")
        for group, name in sorted(spec.placeholders())
        if name not in declared[group]
    ]  # fmt: skip
    sweep = spec.sweep
    if sweep and sweep.sampling_algorithm == "bayesian" and sweep.early_termination:
        problems.append(Problem(str(spec.source), "early_termination", "bayesian sampling "
                                "does not support early termination (as on Azure ML): remove "
                                "the policy or use random sampling"))  # fmt: skip
    if problems:
        raise ConfigError(problems)
