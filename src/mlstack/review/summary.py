"""A stack's ``pulumi preview --json``, summarised for a pull request.

``summarise`` sorts every step that changes something into what a reviewer reads:
replacements and deletions first (they are the dangerous ones), then new asset versions,
model versions with their metric deltas (or the earlier version a rollback returns to)
and lineage graphs, environments, endpoint traffic, and the rest of the infrastructure
grouped by resource type. A preview that failed keeps its error diagnostics as the stack's
problems. ``review.markdown.render_markdown`` turns them into one PR comment. Both are
pure: the CLI runs pulumi (and reads promoted source versions), this module only reads its
JSON.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlstack.audit.graph import LineageGraph, Serving, build_graph
from mlstack.config.models import Gate, parse_gate
from mlstack.config.resources import RESOURCE_TYPES
from mlstack.review.serving import serving_of
from mlstack.review.steps import (
    Step,
    changing_steps,
    kind_of,
    short_type,
    split,
)
from mlstack.workspace.asset import AssetVersion

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi's "known after apply" sentinel
FLAGGED_OPS = ("replace", "delete")
OP_ORDER = ("create", "update", "replace", "delete", "import")
METRIC_SPLIT = "test"  # the held-out split whose metrics a reviewer compares
# The program's summary of a promoted model whose pin is content the target workspace
# already holds as an older version than the one served (see mlstack.plan).
ROLLBACK = re.compile(r"^rollback to version (\S+?)(?:\s|$)")


@dataclass(frozen=True)
class AssetChange:
    """A data asset: a new version (content changed) or an in-place metadata update."""

    name: str
    op: str
    new_version: bool  #: content changed: the next ``pulumi up`` registers a version
    from_version: str  #: the current version, "" for a new asset
    files: int | None
    bytes: int | None
    summary: str  #: the program's change summary, e.g. "1 changed since version 1"
    changed: tuple[str, ...]  #: input keys that differ


@dataclass(frozen=True)
class MetricDelta:
    """One metric of the held-out split, before (if any) and after."""

    name: str
    old: float | None
    new: float | None


@dataclass(frozen=True)
class Promotion:
    """Where a promoted model version comes from, as the stack's promotion pin says."""

    source_stack: str
    source_version: str
    digest: str


@dataclass(frozen=True)
class ModelChange:
    name: str
    op: str
    new_version: bool
    from_version: str
    stage: tuple[str, str]  #: (old, new)
    summary: str  #: the program's ``metrics_change``, e.g. "test.accuracy 0.98 → 0.99"
    metrics: tuple[MetricDelta, ...]
    rollback_to: str = ""  #: the earlier version a rollback serves again (none registered)
    stack: str = ""
    planned: AssetVersion | None = None
    """The version as planned (digest, metrics and lineage); None for a deletion."""
    gates: tuple[Gate, ...] = ()
    serving: tuple[Serving, ...] = ()
    """Deployments of the stack's endpoints that serve the model, after the change."""
    promotion: Promotion | None = None
    source: AssetVersion | None = field(default=None, compare=False)
    """The promoted source version, when the reviewer's machine could read it."""

    def graph(self) -> LineageGraph | None:
        """The lineage graph of the planned version (the promotion pin stands in for the
        source version when that could not be read)."""
        if self.planned is None:
            return None
        return build_graph(self.planned, stack=self.stack, gates=self.gates,
                           serving=self.serving, source=self.source)  # fmt: skip


@dataclass(frozen=True)
class EnvironmentChange:
    name: str
    op: str
    from_version: str
    image: tuple[str, str]  #: (old, new)
    changed: tuple[str, ...]


@dataclass(frozen=True)
class TrafficChange:
    """An endpoint's traffic split (percent per deployment), before and after."""

    endpoint: str
    op: str
    old: tuple[tuple[str, int], ...]
    new: tuple[tuple[str, int], ...]
    changed: tuple[str, ...]


@dataclass(frozen=True)
class ResourceChange:
    """Infrastructure, or a flagged step (replace, delete) of any kind, with its reasons."""

    kind: str  #: "data asset", "model", … or the resource type ("mlstack:Workspace")
    name: str
    op: str
    changed: tuple[str, ...]  #: the engine's reasons, else the input keys that differ


@dataclass(frozen=True)
class StackReview:
    """What one stack's ``pulumi up`` would do, sorted for a reviewer."""

    stack: str
    counts: tuple[tuple[str, int], ...]  #: (op, resources), in OP_ORDER
    attention: tuple[ResourceChange, ...]  #: replacements and deletions
    assets: tuple[AssetChange, ...]
    models: tuple[ModelChange, ...]
    environments: tuple[EnvironmentChange, ...]
    endpoints: tuple[TrafficChange, ...]
    infrastructure: tuple[ResourceChange, ...]  #: sorted by type, then name
    problems: tuple[str, ...]  #: error diagnostics: the preview failed
    warnings: tuple[str, ...]
    components: tuple[AssetChange, ...] = ()  #: component versions: spec and code changes

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def _digest_changed(step: Step) -> bool:
    """Whether the step registers a new version: its inputs model's content keys differ."""
    model = RESOURCE_TYPES.get(step.type.rsplit(":", 1)[-1])
    keys = getattr(model, "content_keys", ("digest", "version_pin"))
    return step.op == "create" or any(step.old.get(k) != step.new.get(k) for k in keys)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _asset(step: Step) -> AssetChange:
    return AssetChange(
        name=str(step.value("name") or step.name), op=step.op, new_version=_digest_changed(step),
        from_version=str(step.old_outputs.get("version") or ""),
        files=_int(step.value("files")), bytes=_int(step.value("bytes")),
        summary=str(step.value("changes") or ""), changed=step.changed,
    )  # fmt: skip


def _metrics(inputs: Mapping[str, Any]) -> dict[str, float]:
    props = inputs.get("properties") or {}
    if isinstance(props, str):  # tolerate properties passed as a JSON string
        try:
            props = json.loads(props)
        except ValueError:
            return {}
    split = (props.get("metrics") or {}).get(METRIC_SPLIT) if isinstance(props, dict) else None
    if not isinstance(split, dict):
        return {}
    return {k: float(v) for k, v in split.items() if isinstance(v, int | float)}


def metric_deltas(old: Mapping[str, float], new: Mapping[str, float]) -> tuple[MetricDelta, ...]:
    names = sorted(set(old) | set(new))
    return tuple(
        MetricDelta(f"{METRIC_SPLIT}.{n}", old.get(n), new.get(n))
        for n in names
        if old.get(n) != new.get(n) or n not in old
    )


def _promotion(inputs: Mapping[str, Any]) -> Promotion | None:
    if not inputs.get("source_stack"):
        return None
    return Promotion(str(inputs["source_stack"]), str(inputs.get("source_version") or ""),
                     str(inputs.get("digest") or ""))  # fmt: skip


def _planned(
    step: Step, new_version: bool, promotion: Promotion | None, rollback_to: str = ""
) -> AssetVersion | None:
    """The model version the step would register (or, for a rollback, serve again), from
    its inputs (no I/O)."""
    inputs = step.new
    if step.op == "delete" or not inputs:
        return None
    props = inputs.get("properties")
    properties = dict(props) if isinstance(props, dict) else {}
    if promotion is not None:  # registration adds the record; the pin says what it will hold
        properties["promotion"] = {"source_stack": promotion.source_stack,
                                   "source_version": promotion.source_version,
                                   "digest": promotion.digest}  # fmt: skip
    current = str(step.old_outputs.get("version") or "")
    version = rollback_to or (
        current if current and not new_version else str(inputs.get("version_pin") or "next")
    )
    return AssetVersion(
        name=str(inputs.get("name") or step.name), version=version, type=str(inputs.get("type")),
        uri="", digest=str(inputs.get("digest") or ""), files=_int(inputs.get("files")) or 0,
        bytes=_int(inputs.get("bytes")) or 0, kind="model", properties=properties,
    )  # fmt: skip


def _gates(inputs: Mapping[str, Any]) -> tuple[Gate, ...]:
    raw = inputs.get("gates")
    found = [parse_gate(str(k), v) for k, v in sorted(raw.items())] if isinstance(raw, dict) else []
    return tuple(g for g in found if g is not None)


def _model(step: Step, stack: str, serving: Mapping[str, tuple[Serving, ...]]) -> ModelChange:
    old_metrics = _metrics(step.old) if step.op != "create" else {}
    summary = str(step.value("metrics_change") or "")
    rollback = ROLLBACK.match(summary) if step.op == "update" else None
    rollback_to = rollback.group(1) if rollback else ""
    new_version = _digest_changed(step) and rollback is None
    promotion = _promotion(step.new or step.old)
    name = str(step.value("name") or step.name)
    return ModelChange(
        name=name, op=step.op, new_version=new_version,
        from_version=str(step.old_outputs.get("version") or ""),
        stage=(str(step.old.get("stage") or ""), str(step.new.get("stage") or "")),
        summary=summary,
        metrics=metric_deltas(old_metrics, _metrics(step.new)) if step.op != "delete" else (),
        rollback_to=rollback_to,
        stack=stack, planned=_planned(step, new_version, promotion, rollback_to),
        gates=_gates(step.new), serving=serving.get(name, ()), promotion=promotion,
    )  # fmt: skip


def _image(inputs: Mapping[str, Any]) -> str:
    nested = inputs.get("environmentVersionProperties") or {}  # azure-native's shape
    return str(inputs.get("image") or (nested.get("image") if isinstance(nested, dict) else ""))


def _environment(step: Step) -> EnvironmentChange:
    return EnvironmentChange(
        name=str(step.value("name") or step.name), op=step.op,
        from_version=str(step.old_outputs.get("version") or ""),
        image=(_image(step.old), _image(step.new)), changed=step.changed,
    )  # fmt: skip


def _traffic(step: Step) -> TrafficChange:
    name = step.value("name") or step.value("endpoint") or step.name
    return TrafficChange(
        endpoint=str(name), op=step.op, old=split(step.old.get("traffic")),
        new=split(step.new.get("traffic")), changed=step.changed,
    )  # fmt: skip


def _diagnostics(preview: Mapping[str, Any], severity: str) -> tuple[str, ...]:
    found = []
    for diag in preview.get("diagnostics") or []:
        if diag.get("severity") == severity:
            message = str(diag.get("message", "")).strip()
            found.append(message.removeprefix(f"{severity}: ").strip())
    return tuple(dict.fromkeys(m for m in found if m))


def summarise(stack: str, preview: Mapping[str, Any]) -> StackReview:
    """Sort one stack's preview JSON into what a reviewer needs to read."""
    steps = changing_steps(preview)
    serving = serving_of(preview)
    attention, assets, models, envs, endpoints, infra = [], [], [], [], [], []
    components: list[AssetChange] = []
    for step in steps:
        kind = kind_of(step.type)
        if step.op in FLAGGED_OPS:
            if kind == "infrastructure":
                kind, name = short_type(step.type), step.name
            else:
                name = str(step.value("name") or step.name)
            attention.append(ResourceChange(kind, name, step.op, step.changed))
        elif kind == "data asset":
            assets.append(_asset(step))
        elif kind == "component":
            components.append(_asset(step))
        elif kind == "model":
            models.append(_model(step, stack, serving))
        elif kind == "environment":
            envs.append(_environment(step))
        elif kind == "endpoint" or isinstance(step.value("traffic"), dict):
            endpoints.append(_traffic(step))
        else:
            infra.append(ResourceChange(short_type(step.type), step.name, step.op, step.changed))
    ops = Counter(step.op for step in steps)
    order = [*OP_ORDER, *sorted(set(ops) - set(OP_ORDER))]
    attention.sort(key=lambda f: (FLAGGED_OPS.index(f.op), f.kind, f.name))
    return StackReview(
        stack=stack, counts=tuple((op, ops[op]) for op in order if ops[op]),
        attention=tuple(attention), assets=tuple(sorted(assets, key=lambda a: a.name)),
        models=tuple(sorted(models, key=lambda m: m.name)),
        environments=tuple(sorted(envs, key=lambda e: e.name)),
        endpoints=tuple(sorted(endpoints, key=lambda e: e.endpoint)),
        infrastructure=tuple(sorted(infra, key=lambda i: (i.kind, i.name))),
        problems=_diagnostics(preview, "error"), warnings=_diagnostics(preview, "warning"),
        components=tuple(sorted(components, key=lambda c: c.name)),
    )  # fmt: skip
