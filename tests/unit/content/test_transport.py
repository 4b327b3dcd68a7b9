"""Progress where there is no terminal (pytest's captured stderr is none): plain lines the
Pulumi engine shows as they come."""

from __future__ import annotations

import pytest

from mlstack.content.blobstore import MIB
from mlstack.content.report import TransferReport
from mlstack.content.transport import Meter


def test_a_transfer_without_a_terminal_prints_lines_once_each_interval_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Meter("upload digits", files=4, nbytes=4 * MIB, enabled=True, every=0.0) as meter:
        meter.advance(2 * MIB)
        meter.file_done()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("upload digits: 0/4 files, 2.0/4.0 MiB (50%), ")
    assert lines[-1].startswith("upload digits: 1/4 files, 2.0/4.0 MiB (50%), ")
    assert all(line.endswith(" MiB/s") for line in lines)


def test_no_line_before_the_interval_nor_when_progress_is_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Meter("upload a", files=1, nbytes=MIB, enabled=True, every=3600.0) as meter:
        meter.advance(MIB)
        meter.file_done()
    with Meter("upload b", files=1, nbytes=MIB, enabled=False, every=0.0) as meter:
        meter.advance(MIB)
        meter.file_done()
    assert capsys.readouterr().err == ""


def test_the_report_line_says_what_moved_what_it_cost_and_how_fast() -> None:
    report = TransferReport(
        uploaded_files=1, uploaded_bytes=MIB, copied_files=9, copied_bytes=9 * MIB,
        skipped_files=0, skipped_bytes=0, seconds=2.0, sent_bytes=MIB, requests=11,
        requests_by_kind=(("copy", 9), ("put", 2)),
    )  # fmt: skip
    assert str(report) == (
        "uploaded 1 files (1.0 MiB), copied 9 (9.0 MiB), reused 0 (0.0 MiB); 1.0 MiB sent in "
        "11 requests (copy 9, put 2) in 2.0 s (5 files/s, 0.5 MiB/s sent)"
    )
