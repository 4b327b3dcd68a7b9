"""``promote``: check a version of one stack and pin it in another stack's file, for review.

The result is a small diff of ``stacks/Pulumi.<to>.yaml``; the target's ``pulumi up`` then
copies the content and registers it. Nothing is pinned that is archived, fails a gate, or
whose stored content does not match its digest; a refused promotion leaves the file as it
was.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from mlstack.config.naming import stack_file
from mlstack.config.stack import Promotion
from mlstack.errors import ConfigError, PromotionError
from mlstack.project import Project
from mlstack.promotion.pin import pin
from mlstack.promotion.route import source_for
from mlstack.promotion.source import checked
from mlstack.stack import Stack
from mlstack.workspace.asset import AssetVersion

__all__ = ["PromotionResult", "promote"]


@dataclass(frozen=True)
class PromotionResult:
    """What was pinned, and the diff of the target's stack file."""

    kind: str
    name: str
    version: AssetVersion
    stack_file: Path
    diff: str


def promote(
    project: Project, name: str, *, source: str, target: str, version: str | None = None,
    kind: str = "model",
) -> PromotionResult:  # fmt: skip
    """Check ``kind`` ``name`` (default: the latest version) in ``source``; pin it in
    ``target``."""
    if source == target:
        raise PromotionError(source, target, "--from and --to name the same stack: promote "
                             "between two stacks")  # fmt: skip
    into = Stack(project, target).require_file()
    origin = Stack(project, source).require_file()
    _validated(into, origin)
    found = checked(
        source_for(origin, into), project, kind=kind, name=name, version=version, target=target
    )

    before = into.file.read_text(encoding="utf-8")
    pinned = Promotion.model_validate(
        {"from": source, "version": found.version, "digest": found.digest}
    )
    after = pin(before, kind, name, pinned, stack_file(target))
    if after != before:
        into.file.write_text(after, encoding="utf-8")
    shown = stack_file(target)
    diff = "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/{shown}", tofile=f"b/{shown}",
    ))  # fmt: skip
    return PromotionResult(kind, name, found, into.file, diff)


def _validated(*stacks: Stack) -> None:
    """Every problem of every stack file at once, before anything else is read."""
    problems = []
    for stack in stacks:
        try:
            _ = stack.config
        except ConfigError as error:
            problems += error.problems
    if problems:
        raise ConfigError(problems)
