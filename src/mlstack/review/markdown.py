"""Review summaries as one pull-request comment in Markdown.

Separate from :mod:`mlstack.review.summary`, which only reads previews: this module only writes
text. Tables where they help, the flagged section first, nothing but "No changes." for a
stack that has none. Each changing or promoted model version gets its lineage graph as a
Mermaid block (GitHub renders it in the comment), and a promoted one the command that
writes its model card.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mlstack.audit.graph import render_mermaid
from mlstack.review.summary import (
    METRIC_SPLIT,
    UNKNOWN,
    MetricDelta,
    ModelChange,
    StackReview,
)


def _cell(value: object) -> str:
    text = str(value).replace(UNKNOWN, "(known after apply)")
    return " ".join(text.split()).replace("|", "\\|") or "—"


Row = Sequence[object]


def _table(header: Sequence[str], rows: Iterable[Row]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _size(n: int | None) -> str:
    if n is None:
        return ""
    power = min(3, max(0, (len(str(n)) - 1) // 3))  # B, kB, MB, GB: decimal, as ls -h --si
    return f"{n} B" if power == 0 else f"{n / 1000**power:.1f} {('kB', 'MB', 'GB')[power - 1]}"


def _version(op: str, new_version: bool, from_version: str, rollback_to: str = "") -> str:
    if rollback_to:
        return f"v{from_version} → v{rollback_to} (rollback)"
    if op == "create":
        return "new"
    if new_version:
        return f"v{from_version} → next" if from_version else "next"
    return f"v{from_version} (in place)" if from_version else "in place"


def _keys(keys: Sequence[str]) -> str:
    return ", ".join(f"`{k}`" for k in keys)


def _metric(delta: MetricDelta) -> str:
    if delta.new is None:
        return f"{delta.name} {delta.old:.4f} → (none)"
    if delta.old is None:
        return f"{delta.name} {delta.new:.4f}"
    return f"{delta.name} {delta.old:.4f} → {delta.new:.4f} ({delta.new - delta.old:+.4f})"


def _traffic_text(split: Sequence[tuple[str, int]]) -> str:
    return " · ".join(f"{name} {pct}%" for name, pct in split) or "none"


def count_line(review: StackReview) -> str:
    """``3 changes: 1 to create · 2 to update`` — one entry per changing resource."""
    if not review.total:
        return "No changes."
    parts = " · ".join(f"{n} to {op}" for op, n in review.counts)
    plural = "s" if review.total != 1 else ""
    flag = f" — ⚠ {len(review.attention)} need attention" if review.attention else ""
    return f"**{review.total} change{plural}**: {parts}{flag}"


def _infrastructure_rows(review: StackReview) -> list[Row]:
    rows: list[Row] = []
    for i, item in enumerate(review.infrastructure):
        first = i == 0 or review.infrastructure[i - 1].kind != item.kind  # type once per group
        rows.append((f"`{item.kind}`" if first else "", f"`{item.name}`", item.op,
                     _keys(item.changed)))  # fmt: skip
    return rows


def _tables(review: StackReview) -> list[tuple[str, tuple[str, ...], list[Row]]]:
    """(section title, table header, rows) in reading order: flagged steps first."""
    return [
        ("⚠ Needs attention", ("Action", "Kind", "Resource", "Because of"),
         [(f"**{f.op}**", f.kind, f"`{f.name}`", _keys(f.changed)) for f in review.attention]),
        ("Data assets", ("Asset", "Version", "Content", "Change"),
         [(f"`{a.name}`", _version(a.op, a.new_version, a.from_version),
           "" if a.files is None else f"{a.files} files, {_size(a.bytes)}".rstrip(", "),
           a.summary if a.new_version else f"metadata: {_keys(a.changed)}")
          for a in review.assets]),
        ("Models", ("Model", "Version", "Stage", "Summary", f"{METRIC_SPLIT} metrics"),
         [(f"`{m.name}`", _version(m.op, m.new_version, m.from_version, m.rollback_to),
           " → ".join(dict.fromkeys(s or "none" for s in m.stage)), m.summary,
           "<br>".join(_metric(d) for d in m.metrics))
          for m in review.models]),
        ("Environments", ("Environment", "Version", "Image", "Changed"),
         [(f"`{e.name}`", _version(e.op, "digest" in e.changed, e.from_version),
           " → ".join(dict.fromkeys(i for i in e.image if i)), _keys(e.changed))
          for e in review.environments]),
        ("Components", ("Component", "Version", "Code", "Change"),
         [(f"`{c.name}`", _version(c.op, c.new_version, c.from_version),
           "" if c.files is None else f"{c.files} files, {_size(c.bytes)}".rstrip(", "),
           c.summary if c.new_version else f"metadata: {_keys(c.changed)}")
          for c in review.components]),
        ("Endpoint traffic", ("Endpoint", "Action", "Traffic before", "Traffic after", "Changed"),
         [(f"`{t.endpoint}`", t.op, _traffic_text(t.old) if t.op != "create" else "",
           _traffic_text(t.new), _keys(t.changed)) for t in review.endpoints]),
        ("Infrastructure", ("Type", "Resource", "Action", "Changed"), _infrastructure_rows(review)),
    ]  # fmt: skip


def lineage_lines(model: ModelChange) -> list[str]:
    """The model's lineage graph as a Mermaid block, and for a promoted version the
    command that writes its model card."""
    graph = model.graph()
    if graph is None:
        return []
    version = model.planned.version if model.planned else ""
    lines = [f"**Lineage of `{model.name}`** (version {version} in `{model.stack}`)", ""]
    lines += ["```mermaid", render_mermaid(graph).rstrip(), "```", ""]
    if model.promotion is not None:
        source = f"{model.name}:{model.promotion.source_version}"
        lines += [f"Model card: `mlstack model card {source} -s {model.promotion.source_stack}` "
                  f"(the promoted version; after `pulumi up`: `mlstack model card "
                  f"{model.name} -s {model.stack}`)", ""]  # fmt: skip
    return lines


def _stack_markdown(review: StackReview) -> list[str]:
    lines = [f"### Stack `{review.stack}`", ""]
    if review.failed:
        lines += ["#### ❌ Preview failed", "", "```text", *review.problems, "```", ""]
    if review.failed and not review.total:
        return lines
    lines += [count_line(review), ""]
    if not review.total:
        return lines
    for title, header, rows in _tables(review):
        if rows:
            lines += [f"#### {title}", "", *_table(header, rows)]
        if rows and title == "Models":
            lines += [line for model in review.models for line in lineage_lines(model)]
    if review.warnings:
        warnings = [f"- {_cell(w)}" for w in review.warnings]
        lines += ["<details><summary>Warnings</summary>", "", *warnings, "", "</details>", ""]
    return lines


def render_markdown(reviews: Sequence[StackReview]) -> str:
    """One pull-request comment for every reviewed stack."""
    lines = ["## mlstack review: what `pulumi up` would do", ""]
    for review in reviews:
        lines += _stack_markdown(review)
    return "\n".join(lines).rstrip() + "\n"
