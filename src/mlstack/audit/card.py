"""A model card in Markdown, built from what the workspace records about one version.

Intended use and limitations come from the model YAML (``mlstack.intended_use``,
``mlstack.limitations``); everything else from records: the data versions the lineage
names (files and bytes from their manifests, class balance from ``<class>/<file>`` paths,
the layout ``training/prepare_data.py`` writes), metrics per split against the YAML's
gates, the training curve stored in the model's own content, environment, code revision
and parameters, each promotion hop, and the deployments serving it.

:func:`card_facts` reads (workspace I/O); :func:`render_card` only writes text, so its
sections can be checked on plain values.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.audit.graph import GateResult, gate_results, render_mermaid, short_digest
from mlstack.audit.records import ModelRecords
from mlstack.content.download import download
from mlstack.content.manifest import Manifest
from mlstack.errors import MlstackError
from mlstack.stack import Stack
from mlstack.workspace.asset import AssetVersion, upload_prefix

__all__ = ["CURVE_FILE", "CardFacts", "DataFacts", "card_facts", "class_balance", "render_card"]

CURVE_FILE = "training_curve.png"  # what training/train.py stores in the model's content


@dataclass(frozen=True)
class DataFacts:
    """One data version the lineage names, as its workspace records it."""

    role: str
    name: str
    version: str
    digest: str
    files: int | None = None
    bytes: int | None = None
    classes: Mapping[str, int] | None = None
    """Files per class folder; None when the layout has no class folders (or unread)."""
    where: str = ""
    """The stack whose workspace holds it, or why it could not be read."""


@dataclass(frozen=True)
class CardFacts:
    """Everything a card shows."""

    records: ModelRecords
    data: tuple[DataFacts, ...]
    curve: str | None = None
    """Where the training curve picture is: a path relative to the card, or its URI."""


def class_balance(manifest: Manifest) -> dict[str, int] | None:
    """Files per top-level folder when every file sits in one (``<class>/<file>``)."""
    tops = [entry.path.split("/", 1) for entry in manifest.entries]
    if not tops or any(len(parts) != 2 for parts in tops):
        return None
    counts = Counter(parts[0] for parts in tops)
    return dict(sorted(counts.items(), key=lambda kv: (len(kv[0]), kv[0])))


def _human(count: int | None) -> str:
    if count is None:
        return "?"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _data_stacks(stack: Stack, records: ModelRecords) -> list[str]:
    """Stacks whose workspaces may hold the lineage's data: where it was trained first."""
    trained = str((records.version.properties.get("lineage") or {}).get("stack") or "")
    hops = [hop[0] for hop in records.chain]
    return list(dict.fromkeys(s for s in (trained, *reversed(hops), stack.name) if s))


def _data_fact(stack: Stack, records: ModelRecords, item: Mapping[str, Any]) -> DataFacts:
    name, version = str(item.get("name")), str(item.get("version"))
    digest, role = str(item.get("digest") or ""), str(item.get("role") or "")
    reasons = []
    for candidate in _data_stacks(stack, records):
        try:
            ws = Stack(stack.project, candidate).workspace()
            found = ws.data.get(name, version)
            if digest and found.digest != digest:
                reasons.append(f"{candidate} holds other content as {name}:{version}")
                continue
            manifest = ws.data.manifest(name, version)
        except MlstackError as error:
            reasons.append(f"{candidate}: {error}")
            continue
        return DataFacts(role, name, version, digest or found.digest, manifest.files,
                         manifest.bytes, class_balance(manifest), candidate)  # fmt: skip
    return DataFacts(role, name, version, digest, where="; ".join(reasons) or "not found")


def _curve(stack: Stack, version: AssetVersion, output: Path | None) -> str | None:
    """The stored training curve: copied beside ``output`` (a relative link), else its URI."""
    ws = stack.workspace()
    try:
        entry = ws.models.manifest(version.name, version.version).by_path().get(CURVE_FILE)
    except MlstackError:
        return None
    if entry is None:
        return None
    if output is None:
        return version.uri.rstrip("/") + "/" + CURVE_FILE
    target = output.parent / f"{output.stem}-training-curve.png"
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".card-") as folder:
        download(ws.endpoint, ws.container, upload_prefix(version.digest, version.name),
                 Manifest.of([entry]), Path(folder), progress=False)  # fmt: skip
        shutil.copyfile(Path(folder) / CURVE_FILE, target)  # a new file: the user's umask
    return target.name


def card_facts(stack: Stack, records: ModelRecords, output: Path | None = None) -> CardFacts:
    """Read what the card shows; with ``output``, store the curve picture beside it."""
    lineage = records.version.properties.get("lineage") or {}
    items = [i for i in lineage.get("data") or [] if isinstance(i, Mapping)]
    data = tuple(_data_fact(stack, records, item) for item in items)
    return CardFacts(records, data, _curve(stack, records.version, output))


# -- Markdown --------------------------------------------------------------------------------


def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|") or "—"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return [*lines, *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows), ""]


def _or(text: str, missing: str) -> list[str]:
    return [text or f"_{missing}_", ""]


def _summary(card: CardFacts) -> list[str]:
    v, r = card.records.version, card.records
    lines = [f"# Model card: {v.name}:{v.version}", ""]
    if v.description:
        lines += [v.description, ""]
    rows = [("stack", f"`{r.stack}`"), ("version", v.version), ("digest", f"`{v.digest}`"),
            ("content", f"{v.files} files, {_human(v.bytes)}"),
            ("registered", v.created_at or "?"), ("stage", v.stage or "—"),
            ("archived", "yes" if v.archived else "no")]  # fmt: skip
    return [*lines, *_table(("", ""), rows)]


def _data(card: CardFacts) -> list[str]:
    lines = ["## Training data", ""]
    if not card.data:
        return [*lines, "_The lineage names no data versions._", ""]
    rows: list[tuple[object, ...]] = [
        (d.role or "—", f"`{d.name}:{d.version}`", f"`{short_digest(d.digest)}`",
         "?" if d.files is None else d.files, _human(d.bytes),
         d.where if d.files is not None else f"not read: {d.where}")
        for d in card.data
    ]  # fmt: skip
    lines += _table(("Role", "Version", "Digest", "Files", "Size", "Read from stack"), rows)
    balanced = [d for d in card.data if d.classes]
    if balanced:
        classes = list(dict.fromkeys(c for d in balanced for c in d.classes or {}))
        header = ("Class", *(d.role or d.name for d in balanced))
        rows = [(c, *((d.classes or {}).get(c, 0) for d in balanced)) for c in classes]
        totals = ("**total**", *(sum((d.classes or {}).values()) for d in balanced))
        lines += ["### Class balance", "", "Files per class folder, from each version's manifest.",
                  "", *_table(header, [*rows, totals])]  # fmt: skip
    return lines


def _gate_text(result: GateResult | None) -> tuple[str, str]:
    if result is None:
        return "—", "—"
    sign = "≥" if result.gate.bound == "min" else "≤"
    return (
        f"{sign} {result.gate.value:g}",
        "✅ pass" if result.passed else f"❌ fail: {result.reason}",
    )


def _split_order(split: str) -> tuple[int, str]:
    """train, val, test first (the order data flows), then any other split by name."""
    known = ("train", "val", "validation", "test")
    return (known.index(split) if split in known else len(known), split)


def _metrics(card: CardFacts) -> list[str]:
    records = card.records
    metrics: Mapping[str, Any] = records.version.properties.get("metrics") or {}
    gates = records.spec.gates if records.spec else ()
    results = {r.gate.key: r for r in gate_results(gates, metrics)}
    rows = []
    for split, values in sorted(metrics.items(), key=lambda kv: _split_order(kv[0])):
        if not isinstance(values, Mapping):
            continue  # per-epoch history: the training curve shows it
        for name, value in values.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                gate = _gate_text(results.pop(f"{split}.{name}", None))
                rows.append((split, name, f"{value:.4f}", *gate))
    rows += [(r.gate.split, r.gate.metric, "missing", *_gate_text(r)) for r in results.values()]
    lines = ["## Metrics", ""]
    if not rows:
        return [*lines, "_No metrics recorded._", ""]
    where = f" (`{records.spec.file.name}`)" if records.spec else ""
    note = f"Gates from the model YAML{where}." if gates else "The model YAML declares no gate."
    return [*lines, *_table(("Split", "Metric", "Value", "Gate", "Result"), rows), note, ""]


def _curve_lines(card: CardFacts) -> list[str]:
    lines = ["## Training curve", ""]
    if card.curve is None:
        return [*lines, f"_The model's content holds no `{CURVE_FILE}`._", ""]
    if "://" in card.curve:
        return [*lines, f"Stored with the model: `{card.curve}` (write the card with `--output` "
                "to get the picture beside it).", ""]  # fmt: skip
    return [*lines, f"![Training curve: loss and validation accuracy per epoch]({card.curve})",
            "", f"Stored with the model as `{CURVE_FILE}`.", ""]  # fmt: skip


def _environment(lineage: Mapping[str, Any]) -> list[str]:
    env = lineage.get("environment") or {}
    lines = ["## Environment", ""]
    if not env.get("name"):
        return [*lines, "_The lineage names no environment version._", ""]
    rows = [
        ("version", f"`{env['name']}:{env.get('version')}`"),
        ("image", env.get("image") or "—"),
        ("digest", f"`{env.get('digest') or '—'}`"),
    ]
    return [*lines, *_table(("", ""), rows)]


def _device(lineage: Mapping[str, Any]) -> str:
    threads, torch = lineage.get("threads"), lineage.get("torch")
    count = threads and f"{threads} thread{'' if threads == 1 else 's'}"
    parts = (lineage.get("device"), count, torch and f"torch {torch}")
    return " · ".join(str(x) for x in parts if x) or "—"


def _run(lineage: Mapping[str, Any]) -> list[str]:
    lines = ["## Code and training run", ""]
    if not lineage:
        return [*lines, "_No lineage recorded._", ""]
    code = lineage.get("code") or {}
    revision = f"`{code['revision']}`" if code.get("revision") else "no git revision"
    params = lineage.get("parameters") or {}
    rows = [("code revision", revision + (" (uncommitted changes)" if code.get("dirty") else "")),
            ("script", code.get("script") or "—"), ("job", lineage.get("job") or "—"),
            ("parameters", ", ".join(f"`{k}={v}`" for k, v in sorted(params.items())) or "—"),
            ("trained", f"{lineage.get('started_at') or '?'} → {lineage.get('ended_at') or '?'}"),
            ("device", _device(lineage))]  # fmt: skip
    return [*lines, *_table(("", ""), rows)]


def _promotions(card: CardFacts) -> list[str]:
    lines = ["## Promotion history", ""]
    records = card.records
    if not records.chain:
        return [*lines, f"Trained and registered in stack `{records.stack}`; not promoted.", ""]
    into = f"`{records.stack}`: {records.version.name}:{records.version.version}"
    for source_stack, found, record in records.chain:
        when = str(record.get("promoted_at") or "?")
        state = "" if found is None else (" (archived there)" if found.archived else "")
        reach = " — source not readable from here" if found is None else ""
        lines.append(f"- {into} ← promoted on {when} from `{source_stack}`: "
                     f"{records.version.name}:{record.get('source_version')}{state}, "
                     f"`{short_digest(str(record.get('digest') or ''))}`{reach}")  # fmt: skip
        into = f"`{source_stack}`: {records.version.name}:{record.get('source_version')}"
    trained = records.chain[-1][0]
    return [*lines, f"- trained in `{trained}`", ""]


def _serving(card: CardFacts) -> list[str]:
    records = card.records
    lines = ["## Serving endpoints", ""]
    if not records.serving:
        return [*lines, f"_No endpoint of stack `{records.stack}` serves this version._", ""]
    rows = [(f"`{s.endpoint}`", f"`{s.deployment}`",
             f"{s.traffic}%" + (" (declared)" if s.declared else ""), s.scoring_uri or "—")
            for s in records.serving]  # fmt: skip
    return [*lines, *_table(("Endpoint", "Deployment", "Traffic", "Scoring URI"), rows)]


def render_card(card: CardFacts) -> str:
    """The card as Markdown; its ``##`` sections always appear, in the same order."""
    records = card.records
    spec = records.spec
    lineage: Mapping[str, Any] = records.version.properties.get("lineage") or {}
    missing = "not declared: add `mlstack.{}` to the model YAML's properties"
    lines = _summary(card)
    lines += ["## Intended use", "", *_or(spec.intended_use if spec else "",
                                          missing.format("intended_use"))]  # fmt: skip
    lines += ["## Limitations", "", *_or(spec.limitations if spec else "",
                                         missing.format("limitations"))]  # fmt: skip
    lines += _data(card) + _metrics(card) + _curve_lines(card)
    lines += ["## Lineage", "", "```mermaid", render_mermaid(records.graph()).rstrip(), "```", ""]
    lines += _environment(lineage) + _run(lineage) + _promotions(card) + _serving(card)
    if records.notes:
        lines += ["## Notes", "", *(f"- {_cell(n)}" for n in records.notes), ""]
    name = f"{records.version.name}:{records.version.version}"
    lines += ["---", "", f"_Written by `mlstack model card {name} -s {records.stack}` from the "
              "workspace's records._"]  # fmt: skip
    return "\n".join(lines).rstrip() + "\n"
