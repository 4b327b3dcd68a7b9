"""Declared models: ``assets/models/*.yaml`` read with azure-ai-ml's own loader.

The files are Azure ML CLI v2 model specs (``name``, ``type``, ``path``, ``description``,
``tags``, ``stage``, ``properties``, optional ``version``), so ``az ml model create -f``
accepts the same file. ``path`` is the local folder training writes (e.g.
``../../outputs/digits-cnn``); it need not exist when the specs are loaded, because
validation runs before training has produced anything. The loader only checks that it
lies inside the project; whether the artefact is there and complete is the caller's
question, asked when a version is about to be registered.

Quality gates are written as model ``properties`` so the file stays valid for ``az ml``:

    properties:
      mlstack.min.test.accuracy: 0.95   # test.accuracy must be >= 0.95
      mlstack.max.test.loss: 0.3        # test.loss must be <= 0.3

i.e. ``mlstack.<min|max>.<split>.<metric>: <number>``, checked against ``metrics.json``
(``{"<split>": {"<metric>": <number>}}``).

What the model card (``mlstack model card``) says the model is for, and is not, is written
the same way, because azure-ai-ml's loader refuses keys its schema does not know:

    properties:
      mlstack.intended_use: Classifying centred 28x28 grayscale digits.
      mlstack.limitations: Not for letters, photographs or multi-digit strings.

Both are optional, non-empty text. Other ``mlstack.`` keys are reserved.
Every problem of every file is collected first and raised as one ``ConfigError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mlstack.config.assets import asset_name_problem, version_problem
from mlstack.config.specfile import (
    SpecKind,
    collect_specs,
    display,
    load_entity,
    read_mapping,
    spec_files,
    string_tags,
)
from mlstack.errors import Problem

MODELS_FOLDER = Path("assets") / "models"
SCHEMA_HELP = "https://aka.ms/ml-cli-v2-model-yaml-reference"
ModelType = Literal["custom_model", "mlflow_model", "triton_model"]
SUPPORTED_TYPES: tuple[ModelType, ...] = ("custom_model", "mlflow_model", "triton_model")
Bound = Literal["min", "max"]
GATE_CONVENTION = (
    "gates are `mlstack.min.<split>.<metric>: <number>` or "
    "`mlstack.max.<split>.<metric>: <number>`, e.g. `mlstack.min.test.accuracy: 0.95`"
)

CARD_KEYS = {"mlstack.intended_use": "intended_use", "mlstack.limitations": "limitations"}
"""Model-card text declared as properties: property key → ``ModelSpec`` field."""
_GATE_KEY = re.compile(r"^mlstack\.(min|max)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$")
_REMOTE = re.compile(r"^(azureml:|[a-zA-Z][a-zA-Z0-9+.-]*://)")


@dataclass(frozen=True)
class Gate:
    """A bound a model's metric must meet before a version is registered."""

    split: str
    """The data split the metric was measured on, e.g. ``test``."""
    metric: str
    """The metric name inside that split, e.g. ``accuracy``."""
    bound: Bound
    """``min``: the metric must be at least ``value``; ``max``: at most."""
    value: float
    """The bound itself."""

    @property
    def key(self) -> str:
        """``<split>.<metric>``, as messages name the metric."""
        return f"{self.split}.{self.metric}"

    @property
    def property_key(self) -> str:
        """``mlstack.<bound>.<split>.<metric>``, as the model YAML declares the gate."""
        return f"mlstack.{self.bound}.{self.key}"

    def check(self, metrics: Mapping[str, Any]) -> str | None:
        """None if ``metrics`` (metrics.json) meets the gate, else why it does not.

        Reads ``metrics[split][metric]``, falling back to a flat ``metrics["split.metric"]``.
        NaN and non-numbers fail: a gate must never pass on a value it cannot compare.
        """
        split = metrics.get(self.split)
        found = split.get(self.metric) if isinstance(split, Mapping) else None
        if found is None:
            found = metrics.get(self.key)
        if found is None:
            return f"{self.key} is missing from metrics.json"
        if isinstance(found, bool) or not isinstance(found, int | float) or math.isnan(found):
            return f"{self.key} is {found!r} in metrics.json, not a number"
        if self.bound == "min" and found < self.value:
            return f"{self.key} {_shown(found, self.value)} is below the gate {self.value:g}"
        if self.bound == "max" and found > self.value:
            return f"{self.key} {_shown(found, self.value)} is above the gate {self.value:g}"
        return None

    def __str__(self) -> str:
        sign = "≥" if self.bound == "min" else "≤"
        return f"{self.key} {sign} {self.value:g}"


def parse_gate(key: str, value: object) -> Gate | None:
    """The gate a ``mlstack.<min|max>.<split>.<metric>`` key declares; None if it is none."""
    match = _GATE_KEY.fullmatch(key)
    number = _number(value) if isinstance(value, str | int | float) else None
    if match is None or number is None or isinstance(value, bool):
        return None
    bound: Bound = "min" if match[1] == "min" else "max"
    return Gate(split=match[2], metric=match[3], bound=bound, value=number)


def _shown(found: float, gate: float) -> str:
    """Short like the gate, but never so short that a failing value prints as the gate."""
    short = f"{found:.6g}"
    return repr(found) if short == f"{gate:g}" else short


class ModelSpec(BaseModel):
    """One declared model: where training writes it and the gates it must pass."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The model name in the workspace."""
    type: ModelType = "custom_model"
    """The Azure ML model type."""
    path: Path
    """The artefact folder: absolute, inside the project, possibly not yet created."""
    description: str = ""
    """Free text, changeable in place on an existing version."""
    tags: dict[str, str] = {}
    """String tags, changeable in place on an existing version."""
    stage: str | None = None
    """Azure ML's free-text model stage (e.g. ``Development``), if declared."""
    properties: dict[str, str] = {}
    """Declared properties as strings, gate keys included (they are registered too)."""
    gates: tuple[Gate, ...] = ()
    """The quality gates parsed from ``properties``, in key order."""
    intended_use: str = ""
    """What the model is for (``mlstack.intended_use``), shown on its model card."""
    limitations: str = ""
    """What it must not be used for, its known weaknesses (``mlstack.limitations``)."""
    version: str | None = None
    """A pinned positive-integer version, or None to let mlstack assign one by content."""
    file: Path
    """The YAML file that declares the model (absolute)."""


def load_model_specs(project_root: Path, folder: Path | None = None) -> tuple[ModelSpec, ...]:
    """Every model declared under ``folder`` (default ``<root>/assets/models``).

    Files are read in name order; a missing folder declares nothing. Raises one
    ``ConfigError`` listing every problem in every file.
    """
    root = project_root.resolve()
    folder = (folder if folder is not None else root / MODELS_FOLDER).resolve()
    return collect_specs(spec_files(folder), lambda file: _load_one(file, root), root, MODEL.noun)


def _load_one(file: Path, root: Path) -> tuple[str | None, ModelSpec | None, list[Problem]]:
    """Load one file: its valid name (for the duplicate check) and a spec if it has no problem."""
    shown = display(file, root)
    model, loader_problems = load_entity("load_model", file, MODEL)
    if model is None:
        return None, None, [Problem(shown, field, reason) for field, reason in loader_problems]

    found: list[tuple[str, str]] = []
    name: str | None = str(model.name)
    if problem := asset_name_problem(str(name)):
        name = None
        found.append(("name", problem))
    version = None if model.version is None else str(model.version)
    if version is not None and (problem := version_problem(version)):
        found.append(("version", problem))
    kind = next((t for t in SUPPORTED_TYPES if t == model.type), None)
    if kind is None:
        found.append(("type", f"{model.type!r} is not a model type: use {_types()}"))
    tags, tag_problems = string_tags(model.tags or {})
    found.extend(tag_problems)
    properties, gates, property_problems = _properties(model.properties or {})
    found.extend(property_problems)
    path, path_problem = _model_path(_raw_path(file), file, root)
    if path_problem:
        found.append(("path", path_problem))

    if found or name is None or kind is None or path is None:
        return name, None, [Problem(shown, field, reason) for field, reason in found]
    spec = ModelSpec(
        name=name,
        type=kind,
        path=path,
        description=model.description or "",
        tags=tags,
        stage=None if model.stage is None else str(model.stage),
        properties=properties,
        gates=gates,
        intended_use=properties.get("mlstack.intended_use", "").strip(),
        limitations=properties.get("mlstack.limitations", "").strip(),
        version=version,
        file=file,
    )
    return name, spec, []


def _types() -> str:
    return ", ".join(SUPPORTED_TYPES)


def _properties(
    raw: Mapping[str, Any],
) -> tuple[dict[str, str], tuple[Gate, ...], list[tuple[str, str]]]:
    """Properties as strings, and the gates among them (see the module docstring)."""
    properties: dict[str, str] = {}
    gates: list[Gate] = []
    problems: list[tuple[str, str]] = []
    for key in sorted(raw, key=str):
        value, field = raw[key], f"properties.{key}"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            problems.append((field, f"{value!r} is not text or a number: quote it"))
            continue
        properties[str(key)] = str(value)
        if not str(key).startswith("mlstack."):
            continue
        if key in CARD_KEYS:
            if not isinstance(value, str) or not value.strip():
                reason = (f"{value!r} is not text: write what the model card should say "
                          f"under {CARD_KEYS[key]!r}, or remove the key")  # fmt: skip
                problems.append((field, reason))
            continue
        match = _GATE_KEY.fullmatch(str(key))
        if match is None:
            problems.append(
                (
                    field,
                    f"not a gate, and `mlstack.` keys are reserved: {GATE_CONVENTION} "
                    f"(or {' / '.join(CARD_KEYS)}: text for the model card)",
                )
            )
            continue
        number = _number(value)
        if number is None:
            problems.append((field, f"{value!r} is not a number: {GATE_CONVENTION}"))
            continue
        bound: Bound = "min" if match[1] == "min" else "max"
        gates.append(Gate(split=match[2], metric=match[3], bound=bound, value=number))
    problems.extend(_contradictions(gates))
    return properties, tuple(gates), problems


def _number(value: str | int | float) -> float | None:
    """A finite float from a YAML number or numeric text (Azure ML stores properties as text)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _contradictions(gates: Iterable[Gate]) -> Iterator[tuple[str, str]]:
    """A min above the max of the same metric: no model could ever pass."""
    lows = {g.key: g for g in gates if g.bound == "min"}
    for high in (g for g in gates if g.bound == "max"):
        low = lows.get(high.key)
        if low is not None and low.value > high.value:
            yield (
                f"properties.mlstack.min.{high.key}",
                f"{low} contradicts {high}: no model can pass; lower the min or raise the max",
            )


def _raw_path(file: Path) -> object:
    """``path`` as written: azure-ai-ml turns ``azureml:x:1`` into a local-looking path."""
    raw = read_mapping(file)
    return None if raw is None else raw.get("path")


def _model_path(written: object, file: Path, root: Path) -> tuple[Path | None, str | None]:
    """The resolved artefact folder, or why it cannot be used. It may not exist yet.

    Resolved from the text as written, like azure-ai-ml does (relative to the YAML).
    """
    if written is None:
        return None, (
            "missing: add `path:`, the folder training writes the model to, relative to "
            "the YAML (e.g. ../../outputs/<model>)"
        )
    text = str(written)
    if _REMOTE.match(text):
        return None, (
            f"{text!r} is remote, which is not supported for declared models yet: give the "
            "local folder training writes, relative to the YAML file"
        )
    path = (file.parent / text).resolve()
    if not path.is_relative_to(root):
        return None, (
            f"{text!r} resolves to {path}, outside the project root {root}: keep model "
            "artefacts inside the project (e.g. ../../outputs/<model>)"
        )
    return path, None


def _field_reason(field: str, said: str) -> str | None:
    """Model words for a missing key and a wrong ``type``; None for the shared reasons."""
    if "Missing data" in said:
        return f"missing: add `{field}:` (model schema: {SCHEMA_HELP})"
    if field == "type":
        return f"azure-ai-ml: {said} Use one of {_types()}"
    return None


MODEL = SpecKind(
    noun="model",
    help_url=SCHEMA_HELP,
    schema="model schema",
    unknown_schema="model schema",
    field_reason=_field_reason,
)
