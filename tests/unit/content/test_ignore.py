from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.content.ignore import IgnoreRules
from mlstack.errors import ConfigError


def test_no_rules_file_keeps_everything(tmp_path: Path) -> None:
    rules = IgnoreRules.of(tmp_path)
    assert rules.source is None
    assert not rules.excludes("a.log")
    assert not rules.excludes("deep/er/x.tmp")


def test_gitignore_applies_when_there_is_no_amlignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.csv\n")
    rules = IgnoreRules.of(tmp_path)
    assert rules.source == tmp_path.resolve() / ".gitignore"
    assert rules.excludes("a.csv")
    assert rules.excludes("sub/b.csv")
    assert not rules.excludes("a.log")


def test_amlignore_beats_gitignore_entirely(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.csv\n")
    (tmp_path / ".amlignore").write_text("*.log\n")
    rules = IgnoreRules.of(tmp_path)
    assert rules.source == tmp_path.resolve() / ".amlignore"
    assert rules.excludes("a.log")
    # the .gitignore is not merged in: its patterns have no effect at all
    assert not rules.excludes("a.csv")


def test_rules_files_are_ordinary_files_unless_they_ignore_themselves(tmp_path: Path) -> None:
    (tmp_path / ".amlignore").write_text("*.log\n")
    assert not IgnoreRules.of(tmp_path).excludes(".amlignore")
    (tmp_path / ".amlignore").write_text(".amlignore\n")
    assert IgnoreRules.of(tmp_path).excludes(".amlignore")


def test_comments_blank_lines_anchors_and_folders(tmp_path: Path) -> None:
    (tmp_path / ".amlignore").write_text("# a comment\n\n/top.txt\ncache/\n")
    rules = IgnoreRules.of(tmp_path)
    assert not rules.excludes("# a comment")
    assert rules.excludes("top.txt")
    assert not rules.excludes("sub/top.txt")  # anchored to the root
    assert rules.excludes("cache/x.bin")
    assert rules.excludes("sub/cache/x.bin")
    assert not rules.excludes("cache")  # a *file* called cache is not the folder


def test_negation_reincludes_below_an_excluded_folder_as_az_ml_does(tmp_path: Path) -> None:
    # git itself would keep data/keep.csv excluded; azure-ai-ml tests each file on its own.
    # If an azure-ai-ml upgrade changes this, our digests would stop matching its uploads.
    (tmp_path / ".amlignore").write_text("data/\n!data/keep.csv\n")
    rules = IgnoreRules.of(tmp_path)
    assert rules.excludes("data/drop.csv")
    assert not rules.excludes("data/keep.csv")


def test_unreadable_rules_file_names_it(tmp_path: Path) -> None:
    (tmp_path / ".amlignore").mkdir()  # exists, but cannot be read, even by root
    with pytest.raises(ConfigError) as caught:
        IgnoreRules.of(tmp_path)
    [problem] = caught.value.problems
    assert problem.file == str(tmp_path / ".amlignore")
    assert "cannot use this ignore file" in problem.reason


def test_undecodable_rules_file_names_it(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_bytes(b"\xff\xfe*.csv\n")
    with pytest.raises(ConfigError) as caught:
        IgnoreRules.of(tmp_path)
    assert caught.value.problems[0].file == str(tmp_path / ".gitignore")
