"""A model version's lineage as a typed graph, and its Mermaid and PNG pictures.

The graph is built only from what the workspace recorded — the version's ``lineage`` and
``metrics`` properties (frozen when it was registered), its ``promotion`` record — plus the
gates its model YAML declares and the endpoint deployments the stack serves it with:

    data versions (digests) → job/run → [source version or promotion record] → model version
    (metrics, gate pass/fail) → environment → endpoint deployments (traffic %)

so a reviewer reads the same chain in a pull request (Mermaid, rendered by GitHub), in a
terminal and in a picture (PNG, drawn with matplotlib: the chain is layered by kind, so the
layout needs no graph library).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlstack.config.models import Gate
from mlstack.content.artefact import metric
from mlstack.workspace.asset import AssetVersion

__all__ = [
    "Edge",
    "GateResult",
    "LineageGraph",
    "Node",
    "Serving",
    "build_graph",
    "gate_results",
    "render_mermaid",
    "render_png",
    "short_digest",
]

NodeKind = Literal["data", "run", "source", "promotion", "model", "environment", "deployment"]
RANK: dict[str, int] = {"data": 0, "run": 1, "source": 2, "promotion": 2, "model": 3,
                        "environment": 4, "deployment": 5}  # fmt: skip
"""Left-to-right column of each kind: the order the chain is read in."""
Status = Literal["", "pass", "fail"]


def short_digest(digest: str) -> str:
    """``sha256:1a2b3c4d5e6f``: enough to tell versions apart on a picture."""
    algorithm, _, hexdigest = str(digest).partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else str(digest)[:19]


@dataclass(frozen=True)
class Node:
    """One thing the lineage names: a data version, a run, a model version, …"""

    id: str
    """Stable and unique in the graph, e.g. ``data:digits-train:1``."""
    kind: NodeKind
    title: str
    """The first line, e.g. ``data digits-train:1``."""
    details: tuple[str, ...] = ()
    """Further lines: digest, metrics, gates, traffic."""
    status: Status = ""
    """``pass``/``fail`` for a model version with gates, else empty."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title,
                "details": list(self.details), "status": self.status}  # fmt: skip


@dataclass(frozen=True)
class Edge:
    """``source`` led to ``target`` (ids of nodes), e.g. a data version fed a run."""

    source: str
    target: str
    label: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target, "label": self.label}


@dataclass(frozen=True)
class Serving:
    """An endpoint deployment serving the version, with its share of the traffic."""

    endpoint: str
    deployment: str
    traffic: int
    scoring_uri: str = ""
    declared: bool = False
    """True when the traffic is what the stack declares, not what its outputs report."""


@dataclass(frozen=True)
class GateResult:
    """One gate of the model YAML against the version's recorded metrics."""

    gate: Gate
    value: float | None
    reason: str | None
    """Why it fails; None when it passes."""

    @property
    def passed(self) -> bool:
        return self.reason is None

    def __str__(self) -> str:
        shown = "missing" if self.value is None else f"{self.value:.4f}"
        sign = "≥" if self.gate.bound == "min" else "≤"
        mark = "pass" if self.passed else "FAIL"
        return f"{self.gate.key} {shown} {sign} {self.gate.value:g}: {mark}"


def gate_results(gates: Iterable[Gate], metrics: Mapping[str, Any]) -> tuple[GateResult, ...]:
    """Each gate checked against ``metrics`` (the version's ``metrics`` property)."""
    found = dict(metrics)
    return tuple(GateResult(g, metric(found, g.key), g.check(found)) for g in gates)


@dataclass(frozen=True)
class LineageGraph:
    """Nodes in reading order and the edges between them."""

    model: str
    """The id of the model version the graph is about."""
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def of_kind(self, kind: str) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "nodes": [n.to_dict() for n in self.nodes],
                "edges": [e.to_dict() for e in self.edges]}  # fmt: skip


@dataclass
class _Builder:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> str:
        self.nodes.setdefault(node.id, node)
        return node.id

    def link(self, source: str, target: str, label: str = "") -> None:
        edge = Edge(source, target, label)
        if edge not in self.edges:
            self.edges.append(edge)


def _metric_lines(metrics: Mapping[str, Any], gated: Sequence[str]) -> list[str]:
    """The gated metrics (or test accuracy), as ``test.accuracy 0.9889``."""
    names = list(dict.fromkeys([*gated, "test.accuracy"]))
    shown = [(name, metric(dict(metrics), name)) for name in names]
    return [f"{name} {value:.4f}" for name, value in shown if value is not None]


def _model_node(
    node_id: str, version: AssetVersion, stack: str, results: Sequence[GateResult]
) -> Node:
    metrics = version.properties.get("metrics") or {}
    lines = [f"stack {stack}" if stack else "", short_digest(version.digest)]
    lines += _metric_lines(metrics, [r.gate.key for r in results])
    lines += [f"gate {r}" for r in results] or ["no gate declared"]
    status: Status = "" if not results else ("pass" if all(r.passed for r in results) else "fail")
    title = f"model {version.name}:{version.version}"
    return Node(node_id, "model", title, tuple(line for line in lines if line), status)


def _run_node(lineage: Mapping[str, Any]) -> Node:
    job = lineage.get("job")
    code = lineage.get("code") or {}
    revision = str(code.get("revision") or "")
    lines = [str(code.get("script") or "")]
    lines.append(f"code {revision[:12]}{' (dirty)' if code.get('dirty') else ''}"
                 if revision else "code: no git revision")  # fmt: skip
    params = lineage.get("parameters") or {}
    lines += [", ".join(f"{k}={v}" for k, v in sorted(params.items()))] if params else []
    if lineage.get("started_at"):
        lines.append(f"{lineage.get('started_at')} → {lineage.get('ended_at') or '?'}")
    pipeline = lineage.get("pipeline") or {}
    if isinstance(pipeline, Mapping) and pipeline.get("id"):
        steps = pipeline.get("steps") or {}
        lines = [f"step {step}: {steps[step]}" for step in steps] + lines[1:]
        return Node(f"run:{pipeline['id']}", "run", f"pipeline {pipeline['id']}",
                    tuple(x for x in lines if x))  # fmt: skip
    if job:
        return Node(f"run:{job}", "run", f"job {job}", tuple(x for x in lines if x))
    started = str(lineage.get("started_at") or "")
    return Node(f"run:{started or 'unrecorded'}", "run", "training run",
                tuple(x for x in lines if x))  # fmt: skip


def _promotion_nodes(
    b: _Builder, promotion: Mapping[str, Any], name: str, source: AssetVersion | None
) -> str:
    """The node the promoted version came from: the source version, or its record alone."""
    stack = str(promotion.get("source_stack") or "?")
    version = str(promotion.get("source_version") or "?")
    digest = str(promotion.get("digest") or "")
    if source is not None:
        metrics = source.properties.get("metrics") or {}
        lines = [f"stack {stack}", short_digest(source.digest), *_metric_lines(metrics, [])]
        lines += ["archived"] if source.archived else []
        lines += [] if source.digest == digest else [f"now holds other content than {digest}"]
        return b.add(Node(f"source:{stack}:{name}:{source.version}", "source",
                          f"model {name}:{source.version}", tuple(lines)))  # fmt: skip
    lines = [short_digest(digest) if digest else "", str(promotion.get("source_workspace") or "")]
    lines += ["source not reachable from here"] if promotion.get("promoted_at") else []
    return b.add(Node(f"promotion:{stack}:{name}:{version}", "promotion",
                      f"promoted from {stack}:{version}",
                      tuple(x for x in lines if x)))  # fmt: skip


def build_graph(
    version: AssetVersion,
    *,
    stack: str = "",
    gates: Sequence[Gate] = (),
    serving: Sequence[Serving] = (),
    source: AssetVersion | None = None,
) -> LineageGraph:
    """The lineage of model ``version`` of ``stack``.

    ``source`` is the version a promoted one was copied from, when its stack's workspace
    could be read; without it the promotion record stands in for it.
    """
    b = _Builder()
    lineage: Mapping[str, Any] = version.properties.get("lineage") or {}
    promotion: Mapping[str, Any] | None = version.properties.get("promotion")
    results = gate_results(gates, version.properties.get("metrics") or {})
    model_id = f"model:{stack}:{version.name}:{version.version}"
    data = [item for item in lineage.get("data") or [] if isinstance(item, Mapping)]
    for item in data:
        shown = (str(item.get("role") or ""), short_digest(str(item.get("digest") or "")))
        b.add(Node(f"data:{item.get('name')}:{item.get('version')}", "data",
                   f"data {item.get('name')}:{item.get('version')}",
                   tuple(x for x in shown if x)))  # fmt: skip
    run = b.add(_run_node(lineage)) if lineage else ""
    for item in data:
        b.link(f"data:{item.get('name')}:{item.get('version')}", run, str(item.get("role") or ""))
    upstream = run
    if promotion:
        origin = _promotion_nodes(b, promotion, version.name, source)
        if upstream:
            b.link(upstream, origin, "trained")
        upstream, produced = origin, f"promoted {str(promotion.get('promoted_at') or '')[:10]}"
    else:
        produced = "trained"
    b.add(_model_node(model_id, version, stack, results))
    if upstream:
        b.link(upstream, model_id, produced.strip())
    env = lineage.get("environment") or {}
    served_from = model_id
    if env.get("name"):
        env_id = b.add(Node(f"environment:{env['name']}:{env.get('version')}", "environment",
                            f"environment {env['name']}:{env.get('version')}",
                            tuple(x for x in (str(env.get("image") or ""),
                                              short_digest(str(env.get("digest") or "")))
                                  if x)))  # fmt: skip
        b.link(model_id, env_id, "runs in")
        served_from = env_id
    for serve in serving:
        word = "declared" if serve.declared else "traffic"
        node = Node(f"deployment:{serve.endpoint}/{serve.deployment}", "deployment",
                    f"endpoint {serve.endpoint} / {serve.deployment}",
                    (f"{word} {serve.traffic}%",))  # fmt: skip
        b.link(served_from, b.add(node), f"{serve.traffic}%")
    ordered = sorted(b.nodes.values(), key=lambda n: RANK[n.kind])
    return LineageGraph(model_id, tuple(ordered), tuple(b.edges))


# -- Mermaid ---------------------------------------------------------------------------------

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]")
_MERMAID_ENTITIES = (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"))
STATUS_STYLE = {"pass": "fill:#e6f4ea,stroke:#1e7e34", "fail": "fill:#fdecea,stroke:#c0392b"}


def mermaid_text(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label (its entity codes, no raw quotes)."""
    for raw, entity in _MERMAID_ENTITIES:
        text = text.replace(raw, entity)
    return " ".join(text.split())


def mermaid_ids(nodes: Iterable[Node]) -> dict[str, str]:
    """A Mermaid-safe id per node id: letters, digits and ``_``, unique, never a keyword."""
    ids: dict[str, str] = {}
    for node in nodes:
        base = "n_" + _UNSAFE_ID.sub("_", node.id)
        candidate, count = base, 1
        while candidate in ids.values():
            count += 1
            candidate = f"{base}_{count}"
        ids[node.id] = candidate
    return ids


def render_mermaid(graph: LineageGraph) -> str:
    """A ``flowchart LR`` whose labels are quoted and escaped, gates coloured."""
    ids = mermaid_ids(graph.nodes)
    lines = ["flowchart LR"]
    for node in graph.nodes:
        label = "<br/>".join(mermaid_text(x) for x in (node.title, *node.details))
        lines.append(f'    {ids[node.id]}["{label}"]')
    for edge in graph.edges:
        arrow = f'-->|"{mermaid_text(edge.label)}"|' if edge.label else "-->"
        lines.append(f"    {ids[edge.source]} {arrow} {ids[edge.target]}")
    for status, style in STATUS_STYLE.items():
        members = [ids[n.id] for n in graph.nodes if n.status == status]
        if members:
            lines += [f"    classDef {status} {style}", f"    class {','.join(members)} {status}"]
    return "\n".join(lines) + "\n"


# -- PNG -------------------------------------------------------------------------------------

_FILL = {"data": "#e8f0fe", "run": "#fff4e5", "source": "#f3e8fd", "promotion": "#f3e8fd",
         "model": "#f1f3f4", "environment": "#e0f7fa", "deployment": "#fce8e6"}  # fmt: skip
_STATUS_FILL = {"pass": "#e6f4ea", "fail": "#fdecea"}
_LINE = 44  # characters per line of a box: longer details (images, times) are shortened
_COLUMN_WIDTH, _ROW_HEIGHT = 3.4, 1.5  # inches per column and per node of the fullest one


def _clip(line: str) -> str:
    """One line of a box, cut with an ellipsis past ``_LINE`` characters."""
    return line if len(line) <= _LINE else line[: _LINE - 1] + "…"


def render_png(graph: LineageGraph, path: Path) -> Path:
    """Draw the graph left to right, one column per kind, and save it as a PNG."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - Agg canvas, no pyplot state

    columns: dict[int, list[Node]] = {}
    for node in graph.nodes:
        columns.setdefault(RANK[node.kind], []).append(node)
    order = sorted(columns)
    rows = max(len(nodes) for nodes in columns.values())
    figure = Figure(figsize=(_COLUMN_WIDTH * len(order), _ROW_HEIGHT * rows + 0.6),
                    layout="constrained")  # fmt: skip
    ax = figure.subplots()
    ax.set_axis_off()
    ax.set(xlim=(-0.5, len(order) - 0.5), ylim=(-0.5, rows - 0.5))
    figure.suptitle(f"lineage of {graph.node(graph.model).title.removeprefix('model ')}")
    artists, centres = {}, {}
    for x, rank in enumerate(order):
        nodes = columns[rank]
        for i, node in enumerate(nodes):
            y = (rows - 1) / 2 + (len(nodes) - 1) / 2 - i
            fill = _STATUS_FILL.get(node.status) or _FILL[node.kind]
            text = "\n".join(_clip(x) for x in (node.title, *node.details))
            artists[node.id] = ax.text(
                x, y, text, ha="center", va="center", fontsize=7, wrap=True,
                bbox={"boxstyle": "round,pad=0.4", "facecolor": fill, "edgecolor": "#5f6368"},
            )  # fmt: skip
            centres[node.id] = (x, y)
    for edge in graph.edges:
        ax.annotate("", xy=centres[edge.target], xytext=centres[edge.source],
                    arrowprops={"arrowstyle": "-|>", "color": "#5f6368",
                                "patchA": artists[edge.source].get_bbox_patch(),
                                "patchB": artists[edge.target].get_bbox_patch()})  # fmt: skip
        if edge.label:
            (x0, y0), (x1, y1) = centres[edge.source], centres[edge.target]
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, edge.label, fontsize=6, ha="center",
                    va="center", color="#3c4043",
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "lw": 0})  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, metadata={"Software": None})
    return path
