"""Declared components: ``assets/components/*.yaml`` read with azure-ai-ml's loader.

The files are Azure ML CLI v2 command component specs (``name``, ``command``, ``code``,
``environment``, ``inputs``, ``outputs``, ``is_deterministic``, optional ``version``), so
``az ml component create -f`` accepts the same file; reading them with
``azure.ai.ml.load_component`` keeps that promise honest. mlstack adds the rules of a
content-versioned component: a command component, a ``code`` folder inside the project,
a valid and unique name, and an explicit version that is a positive integer.

What a version *is* is the parsed spec in canonical form (:attr:`ComponentSpec.spec`) plus
the code folder's manifest: the provider's digest combines both, so reformatting or
commenting the YAML keeps the version while any real change makes a new one. Every
problem of every file is collected first and raised as one ``ConfigError``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from mlstack.config.assets import version_problem
from mlstack.config.specfile import (
    SpecKind,
    collect_specs,
    display,
    load_entity,
    spec_files,
    string_tags,
)
from mlstack.errors import Problem

COMPONENTS_FOLDER = Path("assets") / "components"
SCHEMA_HELP = "https://aka.ms/ml-cli-v2-component-command-yaml-reference"
_PORT_KEYS = ("type", "default", "optional", "description", "min", "max", "enum", "mode")


class ComponentSpec(BaseModel):
    """One declared command component: its canonical spec and the code folder it runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The component name in the workspace."""
    spec: dict[str, Any]
    """The parsed spec in canonical form: command, inputs, outputs, environment,
    is_deterministic, type (comments, layout, key order and metadata gone)."""
    code: Path
    """The code folder (absolute, inside the project)."""
    description: str = ""
    """Free text, changeable in place on an existing version."""
    tags: dict[str, str] = {}
    """String tags, changeable in place on an existing version."""
    version: str | None = None
    """A pinned positive-integer version, or None to let mlstack assign one by content."""
    file: Path
    """The YAML file that declares the component (absolute)."""

    @property
    def spec_digest(self) -> str:
        """``sha256:<hex>`` of the canonical spec alone (the code folder has its own)."""
        return "sha256:" + hashlib.sha256(canonical_json(self.spec).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces; YAML dates and the like as text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def component_digest(spec: dict[str, Any], code_digest: str) -> str:
    """``sha256:<hex>`` of the canonical spec and the code folder's digest: what a version is."""
    both = canonical_json({"code": code_digest, "spec": spec})
    return "sha256:" + hashlib.sha256(both.encode()).hexdigest()


def load_component_specs(
    project_root: Path, folder: Path | None = None
) -> tuple[ComponentSpec, ...]:
    """Every component declared under ``folder`` (default ``<root>/assets/components``).

    Files are read in name order; a missing folder declares nothing. Raises one
    ``ConfigError`` listing every problem in every file.
    """
    root = project_root.resolve()
    folder = (folder if folder is not None else root / COMPONENTS_FOLDER).resolve()
    files = spec_files(folder)
    return collect_specs(files, lambda file: _load_one(file, root), root, COMPONENT.noun)


def load_component_file(file: Path, project_root: Path) -> ComponentSpec:
    """One component YAML (e.g. a pipeline step's ``component: ../components/x.yaml``),
    with the same rules as the declared ones; its problems as one ``ConfigError``."""
    root = project_root.resolve()
    specs = collect_specs([file.resolve()], lambda one: _load_one(one, root), root, COMPONENT.noun)
    return specs[0]


def _port(port: Any) -> dict[str, Any]:
    """One input or output as plain data: a literal (``epochs: 8``) or its declared keys."""
    if not hasattr(port, "_to_dict"):
        return {"type": type(port).__name__, "default": port}
    shown = port._to_dict()
    return {key: shown[key] for key in _PORT_KEYS if shown.get(key) is not None}


def _environment(value: Any) -> str:
    """The environment reference as the YAML spells it (``azureml:name@latest``)."""
    if isinstance(value, str):
        return value if value.startswith("azureml:") else f"azureml:{value}"
    return ""


def _load_one(file: Path, root: Path) -> tuple[str | None, ComponentSpec | None, list[Problem]]:
    """Load one file: its valid name (for the duplicate check) and a spec if it has no problem."""
    shown = display(file, root)
    component, loader_problems = load_entity("load_component", file, COMPONENT)
    if component is None:
        return None, None, [Problem(shown, field, reason) for field, reason in loader_problems]

    found: list[tuple[str, str]] = []
    name: str | None = str(component.name) if component.name else None
    if name is None:
        found.append(("name", "missing: add `name:` (lower-case letters, digits, underscores)"))
    version = None if component.version is None else str(component.version)
    if version is not None and (problem := version_problem(version)):
        found.append(("version", problem))
    if component.type != "command":
        found.append(
            ("type", f"{component.type!r} components are not supported: use `type: command`")
        )
    code = _code(component.code, file, root, found)
    environment = _environment(component.environment)
    if not environment:
        found.append(
            (
                "environment",
                "inline environments are not supported: register one under "
                "assets/environments/ and reference it (`environment: azureml:<name>@latest`)",
            )
        )
    tags, tag_problems = string_tags(component.tags or {})
    found.extend(tag_problems)
    if found or name is None or code is None:
        return name, None, [Problem(shown, field, reason) for field, reason in found]
    spec = {
        "type": str(component.type),
        "command": str(component.command or "").strip(),  # whitespace inside is meaningful
        "environment": environment,
        "inputs": {k: _port(v) for k, v in sorted((component.inputs or {}).items())},
        "outputs": {k: _port(v) for k, v in sorted((component.outputs or {}).items())},
        "is_deterministic": bool(component.is_deterministic),
    }
    return name, ComponentSpec(
        name=name, spec=spec, code=code, description=str(component.description or ""),
        tags=tags, version=version, file=file,
    ), []  # fmt: skip


def _code(raw: Any, file: Path, root: Path, found: list[tuple[str, str]]) -> Path | None:
    """The code folder ``code:`` names, if it is a folder inside the project."""
    if not isinstance(raw, str) or not raw:
        found.append(("code", "missing: add `code:`, the folder (relative to this YAML) to run"))
        return None
    if raw.startswith("azureml:"):
        found.append(("code", "a registered code asset is not supported: give a local folder"))
        return None
    path = (file.parent / raw).resolve()
    if not path.is_relative_to(root):
        found.append(
            (
                "code",
                f"{raw!r} resolves to {path}, outside the project root {root}: keep the code "
                "folder inside the project (a relative path from the YAML file)",
            )
        )
        return None
    if not path.is_dir():
        found.append(
            (
                "code",
                f"{raw!r} resolves to {path}, which is not a folder: create it, or correct "
                "the path (it is relative to the YAML file)",
            )
        )
        return None
    return path


def _field_reason(field: str, said: str) -> str | None:
    """Component words for a missing key and azure-ai-ml's name rule."""
    if "Missing data" in said:
        return f"missing: add `{field}:` (command component schema: {SCHEMA_HELP})"
    if field == "code" and "Can't find directory" in said:
        return (
            "not a folder: create it, or correct the path (it is relative to the YAML file, "
            "e.g. `code: ../../training`)"
        )
    if field == "name":
        return f"azure-ai-ml: {said} Rename it, e.g. with underscores instead of dashes"
    return None


COMPONENT = SpecKind(
    noun="component",
    help_url=SCHEMA_HELP,
    schema="command component schema",
    field_reason=_field_reason,
    not_a_spec="the file is not a component: write `key: value` lines (name, command, code)",
)


def spec_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two canonical specs, as a review reads it.

    Ports are listed by name (``inputs: +threshold, -seed, ~lr``); other fields say that
    they changed (``command changed``).
    """
    parts: list[str] = []
    for ports in ("inputs", "outputs"):
        before, after = old.get(ports) or {}, new.get(ports) or {}
        moved = [f"+{k}" for k in sorted(after.keys() - before.keys())]
        moved += [f"-{k}" for k in sorted(before.keys() - after.keys())]
        moved += [f"~{k}" for k in sorted(after.keys() & before.keys()) if after[k] != before[k]]
        if moved:
            parts.append(f"{ports}: {', '.join(moved)}")
    for key in sorted((old.keys() | new.keys()) - {"inputs", "outputs"}):
        if old.get(key) != new.get(key):
            parts.append(f"{key} changed")
    return parts
