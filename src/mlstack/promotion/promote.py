"""``promote``: check a version of one stack and pin it in another stack's file, for review.

The result is a small diff of ``stacks/Pulumi.<to>.yaml``; the target's ``pulumi up`` then
copies the content and registers it. Nothing is pinned that is archived, fails a gate, or
whose stored content does not match its digest; a refused promotion leaves the file as it
was.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlstack.config.naming import stack_file
from mlstack.config.stack import Promotion
from mlstack.errors import ConfigError, PromotionError
from mlstack.project import Project
from mlstack.promotion.pin import pin
from mlstack.promotion.route import registry_source_for, source_for
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
    kind: str = "model", via: str = "workspace",
) -> PromotionResult:  # fmt: skip
    """Check ``kind`` ``name`` (default: the latest version) in ``source``; pin it in
    ``target``. ``via="registry"``: share it into the target's Azure ML registry first."""
    if via == "registry":
        return _through_registry(project, name, source=source, target=target,
                                 version=version, kind=kind)  # fmt: skip
    origin, into = _stacks(project, source, target)
    found = checked(
        source_for(origin, into), project, kind=kind, name=name, version=version, target=target
    )

    pinned = Promotion.model_validate(
        {"from": source, "version": found.version, "digest": found.digest}
    )
    return _write(into, kind, name, found, pinned)


def _write(
    into: Stack, kind: str, name: str, found: AssetVersion, pinned: Promotion, *,
    before_write: Callable[[], object] = lambda: None,
) -> PromotionResult:  # fmt: skip
    """Pin ``pinned`` in ``into``'s stack file; ``before_write`` runs once the edit is known
    to be valid, so nothing it does (a share) happens for a pin that cannot be written."""
    target = into.name
    before = into.file.read_text(encoding="utf-8")
    after = pin(before, kind, name, pinned, stack_file(target))
    before_write()
    if after != before:
        into.file.write_text(after, encoding="utf-8")
    shown = stack_file(target)
    diff = "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/{shown}", tofile=f"b/{shown}",
    ))  # fmt: skip
    return PromotionResult(kind, name, found, into.file, diff)


def _through_registry(
    project: Project, name: str, *, source: str, target: str, version: str | None, kind: str,
) -> PromotionResult:  # fmt: skip
    """The checks of every promotion, then the version shared into the target's Azure ML
    registry, then the pin (``via: registry``) — see :mod:`mlstack.promotion.registry`."""
    origin, into = _stacks(project, source, target)
    via = registry_source_for(origin, into)
    found = checked(via, project, kind=kind, name=name, version=version, target=target)
    pinned = Promotion.model_validate(
        {"from": source, "version": found.version, "digest": found.digest, "via": "registry",
         "registry": via.registry.name}
    )  # fmt: skip
    return _write(into, kind, name, found, pinned, before_write=lambda: via.share(found))


def _stacks(project: Project, source: str, target: str) -> tuple[Stack, Stack]:
    """The source and target stacks, two of them, their files there and valid."""
    if source == target:
        raise PromotionError(source, target, "--from and --to name the same stack: promote "
                             "between two stacks")  # fmt: skip
    into = Stack(project, target).require_file()
    origin = Stack(project, source).require_file()
    _validated(into, origin)
    return origin, into


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
