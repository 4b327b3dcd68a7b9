"""Each step's component made exact, and the bindings checked against its ports.

A registered reference (``azureml:NAME:VERSION`` or ``@latest``) is looked up in the
workspace's component registry (the same protocol on both targets), whose version
holds the canonical spec mlstack registered; a file reference is loaded with the rules
of ``assets/components`` and its digest computed from the spec and the code folder, the
digest ``pulumi up`` would register it under (so a file that is registered already is
named by that version). With every component known, the bindings are checked: inputs
that are unbound or unknown, outputs that do not exist, and types that do not match,
all reported together before a single step runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.config.components import component_digest, load_component_file
from mlstack.content.hashcache import HashCache
from mlstack.content.scan import scan
from mlstack.errors import ConfigError, MlstackError, NotFoundError, Problem
from mlstack.jobs.pipeline.spec import Binding, PipelineSpec, StepSpec
from mlstack.jobs.spec import AssetInput, Scalar
from mlstack.workspace.protocol import AssetRegistry

__all__ = ["DATA_TYPES", "Port", "StepComponent", "check_bindings", "resolve_components"]

DATA_TYPES = frozenset(
    {"uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model", "triton_model"}
)


@dataclass(frozen=True)
class Port:
    type: str
    optional: bool = False
    default: Any = None


@dataclass(frozen=True)
class StepComponent:
    """The exact component a step runs: registered version or local file, and its spec."""

    name: str
    version: str | None
    """The registered version with this content; None for a file not registered yet."""
    digest: str
    spec: Mapping[str, Any]
    """The canonical spec (``ComponentSpec.spec``): command, environment, ports."""
    code: Path | None = None
    """The code folder of a file component; a registered one's is fetched by its manifest."""
    file: Path | None = None

    @property
    def label(self) -> str:
        """``name:version``, or ``name (FILE, not registered)``."""
        return f"{self.name}:{self.version}" if self.version else f"{self.name} ({self.file})"

    @property
    def command(self) -> str:
        return str(self.spec.get("command", ""))

    @property
    def environment(self) -> str | None:
        return self.spec.get("environment") or None

    @property
    def is_deterministic(self) -> bool:
        return bool(self.spec.get("is_deterministic", True))

    @property
    def inputs(self) -> dict[str, Port]:
        return _ports(self.spec.get("inputs") or {})

    @property
    def outputs(self) -> dict[str, Port]:
        return _ports(self.spec.get("outputs") or {})


def _ports(raw: Mapping[str, Any]) -> dict[str, Port]:
    return {
        name: Port(
            str(body.get("type", "string")), bool(body.get("optional", False)), body.get("default")
        )
        for name, body in raw.items()
        if isinstance(body, Mapping)
    }


def _registered(
    registry: AssetRegistry, step: StepSpec, source: Path, problems: list[Problem]
) -> StepComponent | None:
    ref = step.component
    assert ref.name is not None
    where = f"jobs.{step.name}.component"
    try:
        found = registry.get(ref.name, ref.version)
    except NotFoundError as error:
        problems.append(
            Problem(
                str(source),
                where,
                f"{ref.text}: {error}{_versions(registry, ref.name)}; "
                "declare it under assets/components/ and run `pulumi up`, "
                "or name a registered version",
            )
        )
        return None
    if found.archived:
        problems.append(
            Problem(
                str(source),
                where,
                f"{ref.text}: {found.name}:{found.version} "
                f"is archived: `mlstack component restore {found.name}:"
                f"{found.version}`, or name another version",
            )
        )
        return None
    spec = found.properties.get("spec")
    if not isinstance(spec, Mapping):
        problems.append(
            Problem(
                str(source),
                where,
                f"{found.name}:{found.version} was not "
                "registered by mlstack (no spec property): register the "
                "component from assets/components/ with `pulumi up`",
            )
        )
        return None
    return StepComponent(found.name, found.version, found.digest, dict(spec))


def _versions(registry: AssetRegistry, name: str) -> str:
    try:
        listed = registry.list(name)
    except MlstackError:
        return ""
    shown = ", ".join(f"{v.version}{' (archived)' if v.archived else ''}" for v in listed)
    return f" (registered versions: {shown})" if shown else ""


def _from_file(
    step: StepSpec,
    root: Path,
    cache: HashCache,
    registry: AssetRegistry | None,
    *,
    source: Path,
    problems: list[Problem],
) -> StepComponent | None:
    assert step.component.file is not None
    try:
        loaded = load_component_file(step.component.file, root)
    except ConfigError as error:
        where = f"jobs.{step.name}.component"
        problems.extend(Problem(str(source), where, str(p)) for p in error.problems)
        return None
    digest = component_digest(loaded.spec, scan(loaded.code, cache).digest)
    version = None
    if registry is not None:
        try:
            version = next(
                (v.version for v in registry.list(loaded.name) if v.digest == digest), None
            )
        except MlstackError:
            version = None
    return StepComponent(loaded.name, version, digest, loaded.spec, loaded.code, loaded.file)


def resolve_components(
    spec: PipelineSpec, registry: AssetRegistry | None, root: Path, cache: HashCache
) -> dict[str, StepComponent]:
    """Every step's component, then :func:`check_bindings`; all problems in one error.

    ``registry`` is the stack's component registry (None when the stack has no workspace
    yet: registered references are then refused with what to do).
    """
    problems: list[Problem] = []
    found: dict[str, StepComponent] = {}
    for step in spec.steps.values():
        if step.component.file is not None:
            component = _from_file(
                step, root, cache, registry, source=spec.source, problems=problems
            )
        elif registry is None:
            problems.append(
                Problem(
                    str(spec.source),
                    f"jobs.{step.name}.component",
                    f"{step.component.text}: the stack has no workspace yet; run `pulumi up` first",
                )
            )
            component = None
        else:
            component = _registered(registry, step, spec.source, problems)
        if component is not None:
            found[step.name] = component
    if problems:
        raise ConfigError(problems)
    check_bindings(spec, found)
    return found


def _literal_fits(value: Scalar | None, kind: str) -> bool:
    if isinstance(value, bool):
        return kind in {"boolean", "string"}
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, str) and _parses(value, int))
    if kind == "number":
        return isinstance(value, int | float) or (isinstance(value, str) and _parses(value, float))
    if kind == "boolean":
        return isinstance(value, str) and value.lower() in {"true", "false"}
    return kind not in DATA_TYPES


def _parses(text: str, kind: type[int] | type[float]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _source_type(
    binding: Binding, spec: PipelineSpec, components: Mapping[str, StepComponent]
) -> tuple[str | None, Scalar | None]:
    """(data type, None) for a data source; (None, value) for a literal one."""
    if binding.kind == "step":
        port = components[binding.source].outputs.get(binding.port)
        return (port.type if port else None), None
    if binding.kind == "data":
        assert binding.data is not None
        return binding.data.type, None
    if binding.kind == "parent":
        value = spec.inputs[binding.source]
        if isinstance(value, AssetInput):
            return value.type, None
        return None, value
    return None, binding.value


def _check_step(
    step: StepSpec, spec: PipelineSpec, components: Mapping[str, StepComponent]
) -> list[Problem]:
    component = components[step.name]
    ports = component.inputs
    file, where = str(spec.source), f"jobs.{step.name}"
    problems = [
        Problem(
            file,
            f"{where}.inputs.{key}",
            f"component {component.label} has no input "
            f"{key!r}: its inputs are {', '.join(sorted(ports)) or 'none'}",
        )
        for key in sorted(step.inputs.keys() - ports.keys())
    ]
    for key, port in sorted(ports.items()):
        binding = step.inputs.get(key)
        if binding is None:
            if not port.optional and port.default is None:
                problems.append(
                    Problem(
                        file,
                        f"{where}.inputs.{key}",
                        f"is not bound: component "
                        f"{component.label} needs it ({port.type}); bind it to a "
                        "pipeline input or another step's output",
                    )
                )
            continue
        if binding.kind == "step" and binding.port not in components[binding.source].outputs:
            upstream = components[binding.source]
            problems.append(
                Problem(
                    file,
                    f"{where}.inputs.{key}",
                    f"{binding}: component "
                    f"{upstream.label} has no output {binding.port!r}; its "
                    f"outputs are {', '.join(sorted(upstream.outputs)) or 'none'}",
                )
            )
            continue
        data_type, literal = _source_type(binding, spec, components)
        if data_type is not None and data_type != port.type:
            problems.append(
                Problem(
                    file,
                    f"{where}.inputs.{key}",
                    f"type mismatch: {binding} is "
                    f"{data_type} but component {component.label} takes "
                    f"{port.type}",
                )
            )
        elif data_type is None and not _literal_fits(literal, port.type):
            problems.append(
                Problem(
                    file,
                    f"{where}.inputs.{key}",
                    f"type mismatch: {literal!r} "
                    f"is not a valid {port.type} for component "
                    f"{component.label}",
                )
            )
    outputs = component.outputs
    for key, target in sorted(step.outputs.items()):
        if key not in outputs:
            problems.append(
                Problem(
                    file,
                    f"{where}.outputs.{key}",
                    f"component "
                    f"{component.label} has no output {key!r}; its outputs "
                    f"are {', '.join(sorted(outputs)) or 'none'}",
                )
            )
        elif target is not None and spec.outputs[target].type != outputs[key].type:
            problems.append(
                Problem(
                    file,
                    f"{where}.outputs.{key}",
                    f"type mismatch: the step "
                    f"writes {outputs[key].type} but pipeline output {target!r} "
                    f"is {spec.outputs[target].type}",
                )
            )
    return problems


def check_bindings(spec: PipelineSpec, components: Mapping[str, StepComponent]) -> None:
    """Every input bound (or optional, or defaulted), every name known, every type equal."""
    problems = [p for step in spec.steps.values() for p in _check_step(step, spec, components)]
    bound = {t for s in spec.steps.values() for t in s.outputs.values() if t is not None}
    problems += [
        Problem(
            str(spec.source),
            f"outputs.{name}",
            "is bound by no step: bind a step output "
            f"to ${{{{parent.outputs.{name}}}}}, or remove it",
        )
        for name in sorted(spec.outputs.keys() - bound)
    ]
    if problems:
        raise ConfigError(problems)
