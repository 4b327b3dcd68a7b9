"""A pipeline made concrete before any step runs: components, data, environments, code.

Everything that can be wrong with the file is found here, so a bad input costs no run
and leaves no record: components are resolved and bindings checked
(:func:`resolve_components`), data inputs resolved and fetched (registered versions
verified by :func:`materialise`, local folders hashed), each component's environment
pinned to its exact registered version, and each command's placeholders checked.
Registered components' code is fetched by manifest into
``<home>/cache/components/<hex digest>/``, once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.config.locator import LocalLocator
from mlstack.content.hashcache import HashCache
from mlstack.content.scan import scan
from mlstack.errors import ConfigError, NotFoundError, Problem, WorkspaceError
from mlstack.jobs.pipeline.component import StepComponent, resolve_components
from mlstack.jobs.pipeline.spec import PipelineSpec, StepSpec
from mlstack.jobs.runner import resolve_environment
from mlstack.jobs.spec import ASSET_PREFIX, AssetInput, substitute
from mlstack.workspace import Workspace, open_workspace
from mlstack.workspace.inputs import ResolvedInput, fetch_version, materialise

__all__ = ["DataInput", "Plan", "command_line", "fetch_component_code"]

Resolver = Callable[[str], ResolvedInput]
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)
_PORT = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}")


@dataclass(frozen=True)
class DataInput:
    """A data input made local: a verified registered version, or a folder of the project."""

    path: Path
    digest: str
    version: ResolvedInput | None = None

    def record(self) -> dict[str, Any]:
        if self.version is None:
            return {"digest": self.digest, "path": str(self.path)}
        v = self.version
        return {"digest": v.digest, "name": v.name, "path": str(v.path), "version": v.version}

    def identity(self) -> dict[str, str] | None:
        v = self.version
        return None if v is None else {"digest": v.digest, "name": v.name, "version": v.version}


def _workspace(home: Path, stack: str) -> Workspace | None:
    try:
        ws = open_workspace(LocalLocator(stack=stack), home=home)
    except NotFoundError:
        return None
    return ws if ws.exists() else None


def _file_digest(path: Path) -> str:
    with path.open("rb") as raw:
        return "sha256:" + hashlib.file_digest(raw, "sha256").hexdigest()


class Plan:
    """Everything resolved before a step runs; any problem raises one ConfigError.

    ``components``, ``environments`` (None without a workspace) and ``code`` are keyed by
    step; ``data`` by the path text the YAML gives (a pipeline or step data input).
    """

    def __init__(
        self, home: Path, stack: str, spec: PipelineSpec, *, outputs: Mapping[str, Path],
        resolver: Resolver | None, root: Path, cache: HashCache,
    ) -> None:  # fmt: skip
        self.home, self.stack, self.spec = home, stack, spec
        self.ws = _workspace(home, stack)
        registry = self.ws.registry("component") if self.ws is not None else None
        self.components = resolve_components(spec, registry, root, cache)
        problems: list[Problem] = []
        where = str(spec.source)
        for name in sorted(set(outputs) - set(spec.outputs)):
            declared = ", ".join(sorted(spec.outputs)) or "none"
            reason = f"the pipeline declares no such output (outputs: {declared})"
            problems.append(Problem(where, f"--output {name}", reason))
        for name, out in sorted(spec.outputs.items()):
            if out.name and self.ws is None:
                reason = (
                    f"registering an output needs the stack's workspace: run `pulumi up -s {stack}`"
                )
                problems.append(Problem(where, f"outputs.{name}.name", reason))
        resolve = resolver or (lambda ref: materialise(home, stack, ref, progress=False))
        self.data: dict[str, DataInput] = {}
        for text, data in self._data_inputs().items():
            try:
                self.data[text] = self._resolve(data, resolve, cache)
            except (WorkspaceError, ConfigError) as error:
                problems.append(Problem(where, f"inputs: {text}", str(error)))
        self.environments = self._environments(problems)
        for step in spec.steps.values():
            problems += _command_problems(spec, step, self.components[step.name])
        if problems:
            raise ConfigError(problems)
        self.code = {n: self._code(c) for n, c in self.components.items()}

    def _data_inputs(self) -> dict[str, AssetInput]:
        found = {v.path: v for v in self.spec.inputs.values() if isinstance(v, AssetInput)}
        for step in self.spec.steps.values():
            found.update({b.data.path: b.data for b in step.inputs.values() if b.data is not None})
        return found

    def _resolve(self, data: AssetInput, resolve: Resolver, cache: HashCache) -> DataInput:
        if data.path.startswith("azureml://"):
            raise WorkspaceError(
                f"{data.path}: a datastore URI cannot be read on the local target; register "
                "the folder as a data asset and name it azureml:NAME:VERSION (or @latest)"
            )
        local = data.local_path(self.spec.source.parent)
        if local is None:
            got = resolve(data.path.removeprefix(ASSET_PREFIX))
            return DataInput(got.path, got.digest, got)
        if local.is_file():
            return DataInput(local, _file_digest(local))
        if not local.exists():
            raise NotFoundError(f"{local} does not exist: give a folder relative to the pipeline")
        return DataInput(local, scan(local, cache).digest)

    def _environments(self, problems: list[Problem]) -> dict[str, Mapping[str, Any] | None]:
        """Each component's environment as the exact registered version; None when the
        stack has no workspace yet (the local target runs the project's Python anyway)."""
        found: dict[str, Mapping[str, Any] | None] = {}
        for name, component in self.components.items():
            ref = component.environment
            if self.ws is None or not ref:
                found[name] = None
                continue
            try:
                found[name] = resolve_environment(self.home, self.stack, ref)
            except NotFoundError as error:
                problems.append(Problem(str(self.spec.source), f"jobs.{name}.component",
                                        f"{component.name}: {error}"))  # fmt: skip
        return found

    def _code(self, component: StepComponent) -> Path:
        """A file component's folder, or a registered one's fetched (verified) once."""
        if component.code is not None:
            return component.code
        assert self.ws is not None and component.version is not None
        return fetch_component_code(self.home, self.ws, component.name, component.version)


def fetch_component_code(home: Path, ws: Workspace, name: str, version: str) -> Path:
    """``<home>/cache/components/<hex>/``: the registered code folder, fetched and verified
    as a data input is (:func:`mlstack.workspace.inputs.fetch_version`)."""
    registry = ws.registry("component")
    found = registry.get(name, version)
    manifest = registry.manifest(name, version)
    return fetch_version(ws, found, manifest, home / "cache" / "components", progress=False)


def _bound(step: StepSpec, component: StepComponent) -> set[str]:
    """The inputs that will have a value: bound, or with a default."""
    return {n for n, p in component.inputs.items()
            if (n in step.inputs and not (step.inputs[n].kind == "literal"
                                          and step.inputs[n].value is None))
            or p.default is not None}  # fmt: skip


def _command_problems(
    spec: PipelineSpec, step: StepSpec, component: StepComponent
) -> list[Problem]:
    """Placeholders outside ``$[[...]]`` must name a declared output or an input with a value."""
    bound, declared = _bound(step, component), set(component.outputs)
    outside = _OPTIONAL.sub("", component.command)
    problems = []
    for group, name in sorted({(m[1], m[2]) for m in _PORT.finditer(component.command)}):
        known = name in (component.inputs if group == "inputs" else declared)
        unset = group == "inputs" and known and name not in bound and _uses_input(outside, name)
        if not known or unset:
            reason = (f"the command of {component.name} uses ${{{{{group}.{name}}}}}, which "
                      + ("it does not declare" if not known else
                         "is optional and unbound: bind it, or wrap it in $[[...]]"))  # fmt: skip
            problems.append(Problem(str(spec.source), f"jobs.{step.name}.inputs.{name}", reason))
    return problems


def _uses_input(text: str, name: str) -> bool:
    return any(m[1] == "inputs" and m[2] == name for m in _PORT.finditer(text))


def command_line(command: str, values: Mapping[tuple[str, str], str]) -> str:
    """Shell-quoted values in; a ``$[[...]]`` segment holding an unset input is dropped,
    the others lose their brackets (as Azure ML does)."""

    def optional(match: re.Match[str]) -> str:
        inner = match[1]
        used = {(m[1], m[2]) for m in _PORT.finditer(inner)}
        return inner if used <= values.keys() else ""

    return " ".join(substitute(_OPTIONAL.sub(optional, command), values).split())
