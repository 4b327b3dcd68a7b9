"""The steps of a ``pulumi preview --json``, read once for every part of the review."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlstack.config.resources import RESOURCE_TYPES

__all__ = [
    "ASSET_KINDS", "DYNAMIC_PREFIX", "Step", "changing_steps", "kind_of", "parse_step",
    "short_type", "split",
]  # fmt: skip

DYNAMIC_PREFIX = "pulumi-python:dynamic/"
QUIET_OPS = frozenset({"same", "read", "refresh"})  # nothing in the estate changes
# One word per resource: the engine may report one replace as several steps.
OP_ALIASES = dict.fromkeys(
    ("create-replacement", "delete-replaced", "discard-replaced", "import-replacement"), "replace"
) | {"discard": "delete"}
# Our dynamic resources by type name, filed where their inputs model says (a promoted model
# is a model version like any other, promoted data a data version).
ASSET_KINDS = {name: model.section for name, model in RESOURCE_TYPES.items()}


@dataclass(frozen=True)
class Step:
    """One resource's step, with what both sides of it said."""

    op: str
    type: str
    name: str
    old: Mapping[str, Any]  #: old inputs
    new: Mapping[str, Any]  #: new inputs
    old_outputs: Mapping[str, Any]
    reasons: tuple[str, ...]

    @property
    def changed(self) -> tuple[str, ...]:
        """Input keys that differ (the engine's reasons when it gave any)."""
        if self.reasons:
            return self.reasons
        if self.op in ("create", "delete"):
            return ()
        keys = (set(self.old) | set(self.new)) - {"__provider"}
        return tuple(sorted(k for k in keys if self.old.get(k) != self.new.get(k)))

    def value(self, key: str) -> Any:
        return self.new.get(key, self.old.get(key)) if self.op != "delete" else self.old.get(key)


def parse_step(raw: Mapping[str, Any]) -> Step:
    urn = str(raw.get("urn", ""))
    # urn:pulumi:<stack>::<project>::<parent$...$type>::<name>; names may contain "::".
    parts = urn.split("::", 3)
    qualified = parts[2] if len(parts) > 2 else ""
    old_state = raw.get("oldState") or {}
    new_state = raw.get("newState") or {}
    type_ = str(new_state.get("type") or old_state.get("type") or qualified.rsplit("$", 1)[-1])
    detailed = raw.get("detailedDiff") or {}
    reasons = raw.get("replaceReasons") or raw.get("diffReasons") or []
    if not reasons and detailed:
        reasons = sorted({key.split(".", 1)[0].split("[", 1)[0] for key in detailed})
    op = str(raw.get("op", "same"))
    return Step(
        op=OP_ALIASES.get(op, op), type=type_, name=parts[3] if len(parts) > 3 else urn,
        old=old_state.get("inputs") or {}, new=new_state.get("inputs") or {},
        old_outputs=old_state.get("outputs") or {}, reasons=tuple(str(r) for r in reasons),
    )  # fmt: skip


def changing_steps(preview: Mapping[str, Any]) -> list[Step]:
    """Changing steps, one per resource (the first step the engine reported for it)."""
    seen: dict[str, Step] = {}
    for raw in preview.get("steps") or []:
        step = parse_step(raw)
        if step.op not in QUIET_OPS and raw.get("urn", "") not in seen:
            seen[str(raw.get("urn", ""))] = step
    return list(seen.values())


def short_type(type_: str) -> str:
    return type_.removeprefix(DYNAMIC_PREFIX)


def kind_of(type_: str) -> str:
    """The section a resource type belongs to."""
    tail = type_.rsplit(":", 1)[-1]
    if type_.startswith(DYNAMIC_PREFIX) and tail in ASSET_KINDS:
        return ASSET_KINDS[tail]
    if tail == "EnvironmentVersion":  # azure-native's, in stacks of earlier releases
        return "environment"
    return "infrastructure"


def split(value: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((str(k), int(v)) for k, v in value.items() if isinstance(v, int | float)))
