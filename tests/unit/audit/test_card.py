"""The model card: its sections, class balance, gates, and what it says when records lack."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlstack.audit.card import CardFacts, DataFacts, class_balance, render_card
from mlstack.audit.graph import Serving
from mlstack.audit.records import ModelRecords
from mlstack.config.models import Gate, ModelSpec
from mlstack.content.manifest import FileEntry, Manifest
from tests.unit.audit.records import DIGESTS, GATE, PROMOTION, version

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "docs" / "examples" / "model-card.md"
SECTIONS = [
    "# Model card", "## Intended use", "## Limitations", "## Training data", "### Class balance",
    "## Metrics", "## Training curve", "## Lineage", "## Environment", "## Code and training run",
    "## Promotion history", "## Serving endpoints",
]  # fmt: skip


def manifest(*paths: str) -> Manifest:
    return Manifest.of(FileEntry(p, 1, f"{i:064x}") for i, p in enumerate(paths))


def spec(
    tmp_path: Path, *gates: Gate, use: str = "Digits.", limits: str = "Not letters."
) -> ModelSpec:
    return ModelSpec(name="digits-cnn", path=tmp_path / "out", file=tmp_path / "digits-cnn.yaml",
                     gates=gates, intended_use=use, limitations=limits)  # fmt: skip


def data(classes: dict[str, int] | None = None) -> tuple[DataFacts, ...]:
    return tuple(
        DataFacts(role, f"digits-{role}", "1", DIGESTS[role], 3, 4096, classes, "local")
        for role in ("train", "val", "test")
    )


def full_card(tmp_path: Path) -> str:
    """A promoted, served version with every record present: the demo's card."""
    records = ModelRecords(
        stack="local-prod", version=version(promotion=PROMOTION, number="1"),
        spec=spec(tmp_path, GATE), serving=(Serving("digits", "blue", 100, "http://x/score"),),
        chain=(("local", version(), PROMOTION),),
    )  # fmt: skip
    return render_card(CardFacts(records, data({"0": 2, "1": 1}), "card-training-curve.png"))


def headings(markdown: str) -> list[str]:
    """Section headings in order, outside code blocks; the title without the model's name."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    found = re.findall(r"^(#{1,3} .+)$", text, flags=re.MULTILINE)
    return [h.split(":", 1)[0] if h.startswith("# ") else h for h in found]


def test_every_section_in_order(tmp_path: Path) -> None:
    assert headings(full_card(tmp_path)) == SECTIONS


def test_the_committed_example_has_the_cards_sections_in_order(tmp_path: Path) -> None:
    assert headings(EXAMPLE.read_text()) == headings(full_card(tmp_path))


def test_the_committed_example_shows_its_picture_beside_it() -> None:
    [picture] = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", EXAMPLE.read_text())
    assert (EXAMPLE.parent / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_class_balance_counts_files_per_class_folder() -> None:
    assert class_balance(manifest("0/a.png", "0/b.png", "10/c.png", "2/d.png")) == {
        "0": 2, "2": 1, "10": 1,
    }  # fmt: skip
    assert class_balance(manifest("a.png", "0/b.png")) is None  # not every file in a class
    assert class_balance(manifest("0/x/a.png")) == {"0": 1}  # nested under its class
    assert class_balance(manifest()) is None


def test_class_balance_table_and_totals(tmp_path: Path) -> None:
    card = full_card(tmp_path)
    section = card.split("### Class balance", 1)[1].split("## Metrics", 1)[0]
    assert "| Class | train | val | test |" in section
    assert "| 0 | 2 | 2 | 2 |" in section and "| 1 | 1 | 1 | 1 |" in section
    assert "| **total** | 3 | 3 | 3 |" in section


def test_gate_pass_and_fail(tmp_path: Path) -> None:
    gates = (GATE, Gate("test", "loss", "max", 0.05), Gate("test", "f1", "min", 0.5))
    records = ModelRecords("local", version(0.97), spec(tmp_path, *gates), (), ())
    card = render_card(CardFacts(records, data()))
    metrics = card.split("## Metrics", 1)[1].split("## Training curve", 1)[0]
    assert "| test | accuracy | 0.9700 | ≥ 0.95 | ✅ pass |" in metrics
    assert "| test | loss | 0.1000 | ≤ 0.05 | ❌ fail: test.loss 0.1 is above the gate 0.05 |" in (
        metrics
    )
    assert "| test | f1 | missing | ≥ 0.5 | ❌ fail: test.f1 is missing from metrics.json |" in (
        metrics
    )
    assert "| val | accuracy | 0.9600 | — | — |" in metrics
    assert metrics.index("| val |") < metrics.index("| test |")  # train, val, test order
    assert "epochs" not in metrics  # the per-epoch history is the curve's


def test_missing_optional_records_are_said_not_skipped(tmp_path: Path) -> None:
    bare = version(properties={})
    card = render_card(CardFacts(ModelRecords("s", bare, None, (), ()), ()))
    assert headings(card) == [s for s in SECTIONS if s != "### Class balance"]
    assert "_not declared: add `mlstack.intended_use` to the model YAML's properties_" in card
    assert "_not declared: add `mlstack.limitations`" in card
    assert "_The lineage names no data versions._" in card
    assert "_No metrics recorded._" in card
    assert "holds no `training_curve.png`" in card
    assert "_The lineage names no environment version._" in card
    assert "_No lineage recorded._" in card
    assert "not promoted" in card
    assert "_No endpoint of stack `s` serves this version._" in card


def test_unread_data_and_a_stored_curve_uri(tmp_path: Path) -> None:
    unread = (DataFacts("train", "digits-train", "1", DIGESTS["train"], where="gone"),)
    records = ModelRecords("s", version(), spec(tmp_path, use="", limits=""), (), ())
    card = render_card(CardFacts(records, unread, "azureml://x/training_curve.png"))
    assert "| train | `digits-train:1` | `sha256:111111111111` | ? | ? | not read: gone |" in card
    assert "### Class balance" not in card
    assert "Stored with the model: `azureml://x/training_curve.png`" in card


def test_promotion_history_walks_each_hop(tmp_path: Path) -> None:
    middle = {**PROMOTION, "source_stack": "dev", "source_version": "3"}
    first = {**PROMOTION, "source_stack": "local", "source_version": "2"}
    records = ModelRecords(
        stack="prod", version=version(promotion=middle, number="1"), spec=spec(tmp_path),
        serving=(), chain=(("dev", version(number="3", promotion=first), middle),
                           ("local", None, first)),
    )  # fmt: skip
    card = render_card(CardFacts(records, data()))
    history = card.split("## Promotion history", 1)[1].split("## Serving", 1)[0]
    lines = [x for x in history.splitlines() if x.startswith("- ")]
    assert lines[0].startswith("- `prod`: digits-cnn:1 ← promoted on 2026-11-30T11:00:00+00:00 "
                               "from `dev`: digits-cnn:3")  # fmt: skip
    assert lines[1].startswith("- `dev`: digits-cnn:3 ← promoted on")
    assert lines[1].endswith("source not readable from here")
    assert lines[2] == "- trained in `local`"


@pytest.mark.parametrize("declared", [False, True])
def test_serving_endpoints(tmp_path: Path, declared: bool) -> None:
    serving = (Serving("digits", "blue", 90, "http://h/score", declared),)
    card = render_card(CardFacts(ModelRecords("s", version(), None, serving, ()), ()))
    suffix = " (declared)" if declared else ""
    assert f"| `digits` | `blue` | 90%{suffix} | http://h/score |" in card


def test_the_card_embeds_the_same_lineage_graph(tmp_path: Path) -> None:
    card = full_card(tmp_path)
    block = card.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block.startswith("flowchart LR\n")
    assert "n_source_local_digits_cnn_3" in block and "n_model_local_prod_digits_cnn_1" in block
