"""Pipeline specs: a CLI v2 pipeline job YAML as a graph of steps and bindings.

``azure.ai.ml.load_job`` validates the file against the service's pipeline schema (so a
file that loads here is one ``az ml job create -f`` accepts); its normalised
``_to_dict()`` is read into the frozen values below. The structure is checked here,
before any component is looked up: every ``${{parent.jobs.<step>.outputs.<o>}}`` names
a step and every ``${{parent.inputs.<i>}}`` a pipeline input, and the steps form no
cycle. What needs the components themselves (unbound inputs, type mismatches, unknown
versions) is checked by :mod:`mlstack.jobs.pipeline.component` before anything runs.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlstack.config.yamlfile import load_yaml
from mlstack.errors import ConfigError, NotFoundError, Problem
from mlstack.jobs.spec import ASSET_PREFIX, AssetInput, Scalar
from mlstack.workspace.asset import AssetRef

__all__ = [
    "Binding",
    "ComponentRef",
    "PipelineOutput",
    "PipelineSpec",
    "StepSpec",
    "load_pipeline",
]

_PARENT_INPUT = re.compile(r"\$\{\{\s*parent\.inputs\.([A-Za-z0-9_]+)\s*\}\}")
_STEP_OUTPUT = re.compile(
    r"\$\{\{\s*parent\.jobs\.([A-Za-z0-9_]+)\.outputs\.([A-Za-z0-9_]+)\s*\}\}"
)
_PARENT_OUTPUT = re.compile(r"\$\{\{\s*parent\.outputs\.([A-Za-z0-9_]+)\s*\}\}")
_ANY_BINDING = re.compile(r"\$\{\{[^}]*\}\}")


@dataclass(frozen=True)
class Binding:
    """Where one step input's value comes from.

    ``literal``: ``value``; ``parent``: the pipeline input ``source``; ``step``: output
    ``port`` of step ``source``; ``data``: the asset or folder ``data`` names directly.
    """

    kind: Literal["literal", "parent", "step", "data"]
    value: Scalar | None = None
    source: str = ""
    port: str = ""
    data: AssetInput | None = None

    def __str__(self) -> str:
        if self.kind == "parent":
            return f"${{{{parent.inputs.{self.source}}}}}"
        if self.kind == "step":
            return f"${{{{parent.jobs.{self.source}.outputs.{self.port}}}}}"
        if self.kind == "data" and self.data is not None:
            return self.data.path
        return repr(self.value)


@dataclass(frozen=True)
class ComponentRef:
    """A step's component: registered (``azureml:NAME:VERSION``, ``azureml:NAME@latest``)
    or a local YAML file (``file:PATH`` or a plain path, relative to the pipeline)."""

    text: str
    """As the pipeline YAML spells it."""
    name: str | None = None
    version: str | None = None
    """None: the newest version that is not archived."""
    file: Path | None = None

    @property
    def registered(self) -> bool:
        return self.file is None


@dataclass(frozen=True)
class StepSpec:
    """One node of the pipeline: a command component and how its ports are bound."""

    name: str
    component: ComponentRef
    inputs: Mapping[str, Binding] = field(default_factory=dict)
    outputs: Mapping[str, str | None] = field(default_factory=dict)
    """Step output → the pipeline output it is bound to (``${{parent.outputs.x}}``), or None."""
    display_name: str | None = None

    def upstream(self) -> set[str]:
        """The steps whose outputs this step reads."""
        return {b.source for b in self.inputs.values() if b.kind == "step"}


@dataclass(frozen=True)
class PipelineOutput:
    """A pipeline output; with ``name`` it is registered as a data asset version."""

    type: str = "uri_folder"
    name: str | None = None
    version: str | None = None
    path: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline job: its own inputs and outputs, and the steps that wire them."""

    source: Path
    steps: Mapping[str, StepSpec]
    inputs: Mapping[str, AssetInput | Scalar] = field(default_factory=dict)
    outputs: Mapping[str, PipelineOutput] = field(default_factory=dict)
    compute: str | None = None
    """``settings.default_compute``."""
    continue_on_step_failure: bool = False
    force_rerun: bool = False
    """``settings.force_rerun``: run every step even when an earlier run could be reused."""
    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None

    @property
    def kind(self) -> str:
        return "pipeline"

    def levels(self) -> list[list[str]]:
        """Steps in dependency order, grouped so the steps of one group may run together."""
        order = graphlib.TopologicalSorter({n: s.upstream() for n, s in self.steps.items()})
        order.prepare()  # the cycle was refused at load time
        levels = []
        while order.is_active():
            ready = sorted(order.get_ready())
            levels.append(ready)
            order.done(*ready)
        return levels

    def downstream(self, step: str) -> set[str]:
        """Every step that reads, directly or not, an output of ``step``."""
        found: set[str] = set()
        frontier = {step}
        while frontier:
            frontier = {n for n, s in self.steps.items() if s.upstream() & frontier} - found
            found |= frontier
        return found


def _component_ref(raw: Any, source: Path, where: str, problems: list[Problem]) -> ComponentRef:
    """The reference as written in the YAML (``load_job`` inlines file components)."""
    if not isinstance(raw, str) or not raw.strip():
        problems.append(
            Problem(
                str(source),
                where,
                "name a component: azureml:NAME:VERSION, "
                "azureml:NAME@latest or a component YAML file",
            )
        )
        return ComponentRef(str(raw))
    text = raw.strip()
    if text.startswith(ASSET_PREFIX) and not text.startswith("azureml://"):
        try:
            ref = AssetRef.parse(text.removeprefix(ASSET_PREFIX))
        except NotFoundError as error:
            problems.append(Problem(str(source), where, str(error)))
            return ComponentRef(text)
        return ComponentRef(text, ref.name, ref.version)
    if text.startswith("azureml:"):
        problems.append(
            Problem(
                str(source),
                where,
                f"{text!r}: name a component by azureml:NAME:VERSION or azureml:NAME@latest",
            )
        )
        return ComponentRef(text)
    path = (source.parent / text.removeprefix("file:")).resolve()
    if not path.is_file():
        problems.append(
            Problem(
                str(source),
                where,
                f"{path} is not a file: give the component "
                "YAML's path relative to the pipeline file",
            )
        )
    return ComponentRef(text, file=path)


def _binding(raw: Any, source: Path, where: str, problems: list[Problem]) -> Binding:
    """One step input as ``_to_dict()`` shows it: a literal, ``{path: ${{...}}}`` or data."""
    text = raw.get("path") if isinstance(raw, Mapping) else raw
    if isinstance(text, str) and _ANY_BINDING.search(text):
        if match := _PARENT_INPUT.fullmatch(text.strip()):
            return Binding("parent", source=match[1])
        if match := _STEP_OUTPUT.fullmatch(text.strip()):
            return Binding("step", source=match[1], port=match[2])
        problems.append(
            Problem(
                str(source),
                where,
                f"{text!r}: bind an input to "
                "${{parent.inputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}}",
            )
        )
        return Binding("literal", value=text)
    if isinstance(raw, Mapping) and "path" in raw:
        data = AssetInput(str(raw.get("type", "uri_folder")), str(raw["path"]), raw.get("mode"))
        return Binding("data", data=data)
    if isinstance(raw, Mapping):
        return Binding("literal", value=raw.get("default", raw.get("value")))
    return Binding("literal", value=raw)


def _pipeline_inputs(raw: Mapping[str, Any]) -> dict[str, AssetInput | Scalar]:
    out: dict[str, AssetInput | Scalar] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping) and "path" in value:
            out[name] = AssetInput(
                str(value.get("type", "uri_folder")), str(value["path"]), value.get("mode")
            )
        elif isinstance(value, Mapping):
            out[name] = value.get("default", value.get("value", ""))
        else:
            out[name] = value
    return out


def _pipeline_outputs(raw: Mapping[str, Any]) -> dict[str, PipelineOutput]:
    out = {}
    for name, value in raw.items():
        body = value if isinstance(value, Mapping) else {}
        version = body.get("version")
        out[name] = PipelineOutput(
            str(body.get("type", "uri_folder")),
            body.get("name"),
            str(version) if version is not None else None,
            body.get("path"),
            body.get("mode"),
        )
    return out


def _step(
    name: str,
    raw: Mapping[str, Any],
    written: Mapping[str, Any],
    *,
    spec_source: Path,
    outputs: Mapping[str, PipelineOutput],
    problems: list[Problem],
) -> StepSpec:
    where = f"jobs.{name}"
    if raw.get("type", "command") != "command":
        problems.append(
            Problem(
                str(spec_source),
                f"{where}.type",
                f"{raw.get('type')!r} steps are not supported: use command steps (a component)",
            )
        )
    # ports as written: load_job drops the ones a file component does not declare
    ref = _component_ref(written.get("component"), spec_source, f"{where}.component", problems)
    inputs = {
        key: _binding(value, spec_source, f"{where}.inputs.{key}", problems)
        for key, value in (written.get("inputs") or raw.get("inputs") or {}).items()
    }
    bound: dict[str, str | None] = {}
    for key, value in (written.get("outputs") or raw.get("outputs") or {}).items():
        text = value.get("path") if isinstance(value, Mapping) else value
        match = _PARENT_OUTPUT.fullmatch(text.strip()) if isinstance(text, str) else None
        if isinstance(text, str) and _ANY_BINDING.search(text) and not match:
            problems.append(
                Problem(
                    str(spec_source),
                    f"{where}.outputs.{key}",
                    f"{text!r}: bind an output to ${{{{parent.outputs.NAME}}}}",
                )
            )
        if match and match[1] not in outputs:
            problems.append(
                Problem(
                    str(spec_source),
                    f"{where}.outputs.{key}",
                    f"{text!r}: the pipeline declares no output {match[1]!r}; "
                    f"declare it under outputs: (declared: "
                    f"{', '.join(sorted(outputs)) or 'none'})",
                )
            )
        bound[key] = match[1] if match else None
    return StepSpec(name, ref, inputs, bound, raw.get("display_name"))


def _references(spec: PipelineSpec) -> list[Problem]:
    """Bindings that name a step, step output position or pipeline input that is absent."""
    problems = []
    for step in spec.steps.values():
        for key, binding in step.inputs.items():
            where = f"jobs.{step.name}.inputs.{key}"
            if binding.kind == "parent" and binding.source not in spec.inputs:
                problems.append(
                    Problem(
                        str(spec.source),
                        where,
                        f"{binding} names no pipeline "
                        "input: declare it under inputs: (declared: "
                        f"{', '.join(sorted(spec.inputs)) or 'none'})",
                    )
                )
            if binding.kind == "step" and binding.source not in spec.steps:
                problems.append(
                    Problem(
                        str(spec.source),
                        where,
                        f"{binding} names no step: steps are {', '.join(sorted(spec.steps))}",
                    )
                )
            if binding.kind == "step" and binding.source == step.name:
                problems.append(
                    Problem(
                        str(spec.source), where, f"{binding}: a step cannot read its own output"
                    )
                )
    taken: dict[str, str] = {}
    for step in spec.steps.values():
        for key, target in step.outputs.items():
            if target is None:
                continue
            if target in taken:
                problems.append(
                    Problem(
                        str(spec.source),
                        f"jobs.{step.name}.outputs.{key}",
                        f"pipeline output {target!r} is already bound to "
                        f"{taken[target]}: bind each pipeline output once",
                    )
                )
            taken[target] = f"jobs.{step.name}.outputs.{key}"
    return problems


def _cycle(spec: PipelineSpec) -> list[Problem]:
    graph = {n: s.upstream() & spec.steps.keys() - {n} for n, s in spec.steps.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        cycle = " → ".join(f"jobs.{n}" for n in reversed(error.args[1]))
        return [
            Problem(
                str(spec.source),
                "jobs",
                f"the steps form a cycle: {cycle}; a step "
                "may only read outputs of steps that do not read its own",
            )
        ]
    return []


def load_pipeline(path: Path, entity: Any | None = None) -> PipelineSpec:
    """Load a pipeline job YAML; every structural problem is reported in one ConfigError.

    ``entity`` is ``load_job``'s result when the caller already loaded the file.
    """
    from mlstack.jobs.spec import load_entity  # noqa: PLC0415 - cycle-free late import

    path = path.resolve()
    job = entity if entity is not None else load_entity(path)
    raw: dict[str, Any] = dict(job._to_dict())
    if raw.get("type") != "pipeline":
        raise ConfigError(
            [
                Problem(
                    str(path),
                    "type",
                    f"{raw.get('type')!r} is not a pipeline job: use `type: pipeline`",
                )
            ]
        )
    written = {
        name: body or {} for name, body in ((load_yaml(path) or {}).get("jobs") or {}).items()
    }
    problems: list[Problem] = []
    outputs = _pipeline_outputs(raw.get("outputs") or {})
    steps = {
        name: _step(
            name, body, written.get(name, {}), spec_source=path, outputs=outputs, problems=problems
        )
        for name, body in (raw.get("jobs") or {}).items()
    }
    if not steps:
        problems.append(Problem(str(path), "jobs", "a pipeline needs at least one step"))
    settings = raw.get("settings") or {}
    spec = PipelineSpec(
        source=path,
        steps=steps,
        inputs=_pipeline_inputs(raw.get("inputs") or {}),
        outputs=outputs,
        compute=settings.get("default_compute") or raw.get("compute"),
        continue_on_step_failure=bool(settings.get("continue_on_step_failure", False)),
        force_rerun=bool(settings.get("force_rerun", False)),
        name=raw.get("name"),
        display_name=raw.get("display_name"),
        experiment_name=raw.get("experiment_name"),
    )
    problems += _references(spec)
    if not problems:
        problems += _cycle(spec)
    if problems:
        raise ConfigError(problems)
    return spec
