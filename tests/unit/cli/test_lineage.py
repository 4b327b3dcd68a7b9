"""``mlstack lineage --format mermaid|png`` and ``mlstack model card`` on a catalog alone.

The stack was never deployed here, so it has no outputs: the graph and card say that no
serving endpoints were read, and show everything else the workspace records.
"""

from __future__ import annotations

from pathlib import Path

from mlstack.workspace.local import LocalWorkspace
from tests.unit.cli.test_inspect import DATA, failure, ok, ws

__all__ = ["ws"]  # the fixture, shared with the inspection commands' tests


def test_mermaid_names_the_recorded_versions(ws: LocalWorkspace) -> None:
    text = ok("lineage", "clf:1", "--format", "mermaid")
    assert text.startswith("flowchart LR\n")
    assert f'n_data_pets_1["data pets:1<br/>{DATA.digest[:19]}"]' in text
    assert 'n_model_unit_clf_1["model clf:1<br/>stack unit<br/>' in text
    assert "n_environment_pets_env_1" in text


def test_png_without_output_is_written_by_the_models_name(ws: LocalWorkspace) -> None:
    ok("lineage", "clf", "--format", "png")
    picture = Path("lineage-clf-1.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mermaid_to_a_file(ws: LocalWorkspace, tmp_path: Path) -> None:
    ok("lineage", "clf:1", "--format", "mermaid", "--output", str(tmp_path / "g.mmd"))
    assert (tmp_path / "g.mmd").read_text().startswith("flowchart LR\n")


def test_the_card_reads_the_data_manifest_and_says_what_is_missing(ws: LocalWorkspace) -> None:
    card = ok("model", "card", "clf:1")
    assert card.startswith("# Model card: clf:1\n")
    assert f"| — | `pets:1` | `{DATA.digest[:19]}` | 40 | 780 B | unit |" in card
    assert "| a | 20 |" in card and "| b | 20 |" in card  # class folders a/ and b/
    assert "| test | accuracy | 0.5000 | — | — |" in card
    assert "holds no `training_curve.png`" in card
    assert "## Notes" in card and "no serving endpoints read" in card


def test_an_unknown_version_lists_the_versions(ws: LocalWorkspace) -> None:
    assert "its versions are 1" in failure("model", "card", "clf:9")


def test_a_pipeline_trained_model_lists_the_run_and_its_steps() -> None:
    from rich.console import Console  # noqa: PLC0415

    from mlstack.cli.lineage import _table, lineage_record  # noqa: PLC0415
    from tests.unit.audit.records import lineage, version  # noqa: PLC0415

    pipeline = {"id": "pipe_1", "display_name": "digits pipeline",
                "steps": {"prep": "prep_0", "evaluate": "evaluate_1"}}  # fmt: skip
    record = lineage_record(version(properties={"lineage": {**lineage(), "pipeline": pipeline}}))
    assert record["pipeline"] == pipeline
    console = Console(width=120, record=True)
    console.print(_table(record))
    shown = console.export_text()
    assert "pipe_1" in shown and "step prep" in shown and "evaluate_1" in shown
    assert "job-7" not in shown  # the pipeline stands for the job
