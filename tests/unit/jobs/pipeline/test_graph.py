"""The pipeline graph: steps in dependency order, coloured by status, reused ones marked."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from mlstack.jobs.pipeline.graph import render_mermaid, render_png, step_states
from mlstack.jobs.record import JobRecord

STEPS = {
    "evaluate": {"job": "e_1", "component": "evaluate_digits:2", "status": "Failed",
                 "upstream": ["train", "prep"], "reused_from": None},
    "prep": {"job": "p_0", "component": "prep_digits:1", "status": "Completed",
             "upstream": [], "reused_from": "p_0"},
    "train": {"job": "t_0", "component": "train_digits:1", "status": "Completed",
              "upstream": ["prep"], "reused_from": None},
    "report": {"job": "r_1", "component": "report:1", "status": "NotStarted",
               "upstream": ["evaluate"], "reused_from": None},
}  # fmt: skip
RECORD = JobRecord(id="pipe_1", kind="pipeline", status="Failed", stack="s",
                   extra={"steps": STEPS})  # fmt: skip
CHILD = JobRecord(id="t_0", kind="command", status="Completed", stack="s", parent="pipe_1",
                  duration=31.25, extra={"step": "train"})  # fmt: skip


def test_steps_come_in_dependency_order_with_their_state() -> None:
    states = step_states(RECORD, [CHILD])
    assert [s.name for s in states] == ["prep", "train", "evaluate", "report"]
    assert states[0].lines() == ["prep", "prep_digits:1", "reused from p_0"]
    assert states[1].lines() == ["train", "train_digits:1", "Completed in 31.2 s"]
    assert states[2].upstream == ("prep", "train")


def test_mermaid_colours_by_status_and_dashes_reused_steps() -> None:
    text = render_mermaid(RECORD, [CHILD])
    assert text.startswith("flowchart LR\n")
    assert '    s_train["train<br/>train_digits:1<br/>Completed in 31.2 s"]' in text
    assert "    s_prep --> s_train" in text and "    s_train --> s_evaluate" in text
    assert "    s_prep --> s_evaluate" in text and "    s_evaluate --> s_report" in text
    assert "    class s_prep,s_train Completed" in text
    assert "    class s_evaluate Failed" in text and "    class s_report NotStarted" in text
    assert "classDef Failed fill:#fdecea" in text
    assert "    class s_prep reused" in text


def test_png_is_a_picture_wide_enough_for_each_level(tmp_path: Path) -> None:
    path = render_png(RECORD, tmp_path / "g" / "pipeline.png", [CHILD])
    with Image.open(path) as image:
        width, height = image.size
    assert image.format == "PNG" and width > height  # four levels side by side
