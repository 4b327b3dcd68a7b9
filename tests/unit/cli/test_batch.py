"""``mlstack batch invoke``'s summary, as a person reads it."""

from __future__ import annotations

from mlstack.batch.local import BatchOutcome
from mlstack.batch.runner import BatchReport, Failure
from mlstack.cli.batch import _summary, _text
from mlstack.workspace.asset import AssetVersion


def version(name: str, number: str, kind: str = "data") -> AssetVersion:
    return AssetVersion(name, number, "uri_folder", "azureml://x", "sha256:ab", 1, 1, kind=kind)


def outcome(output: AssetVersion | None, new: bool) -> BatchOutcome:
    failure = Failure(3, ("a.png", "b.png"), "ValueError: cannot score a.png")
    report = BatchReport(items=40, mini_batches=4, rows=("r",) * 38, failures=(failure,),
                         retried=3, seconds=2.345)  # fmt: skip
    return BatchOutcome(version("digits-test", "2"), version("digits-cnn", "5", "model"),
                        report, output, new)  # fmt: skip


def test_the_summary_names_versions_counts_failures_and_the_output() -> None:
    done = outcome(version("digits-batch-predictions", "4"), new=True)
    assert _text(done).splitlines() == [
        "scored digits-test:2 with model digits-cnn:5: 40 items in 4 mini-batches, "
        "2 failed, 3 retried, 2.3 s",
        "  mini-batch 3 (2 files) failed: ValueError: cannot score a.png",
        "predictions: data digits-batch-predictions:4 (a new version)",
    ]
    record = _summary(done)
    assert (record["output"], record["failed_items"], record["seconds"]) == (
        "digits-batch-predictions:4", 2, 2.35,
    )  # fmt: skip


def test_summary_only_and_an_unchanged_output() -> None:
    assert _text(outcome(None, new=False)).endswith(
        "output_action summary_only: no predictions were written"
    )
    same = _text(outcome(version("digits-batch-predictions", "4"), new=False))
    assert same.endswith("(the same content as this existing version)")
