"""Reading a YAML file the way its other readers do, but refusing duplicate keys.

YAML says the keys of a mapping are unique; PyYAML, which azure-ai-ml's loaders use, and
so ``yaml.safe_load`` keep the last of two equal keys without a word (``name: a`` then
``name: b`` declares ``b``). Every YAML file mlstack reads (asset specs, conda files,
stack files, job files) is checked here first, and each duplicate becomes a ``Problem``
naming the key and both lines, reported with every other problem before anything
changes.

The check is PyYAML's own composer and constructor (a ``SafeLoader`` over the file's
node tree), not a second parser such as ruamel.yaml: keys compare exactly as the
reader that would silently merge them compares them, YAML 1.1 included (``yes`` and
``true`` are the same boolean key, ``1`` and ``0x1`` the same integer), and the file is
composed once for both the check and the values. A merge key (``<<: *base``) is not a
duplicate: overriding a merged key is what merging is for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlstack.errors import ConfigError, Problem

_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in one mapping."""

    field: str
    """The dotted path of the key, e.g. ``tags.stage`` (``[i]`` for list items)."""
    key: str
    """The key as written the second time."""
    first_line: int
    """1-based line of the first occurrence."""
    line: int
    """1-based line of the repeat."""

    @property
    def reason(self) -> str:
        return (
            f"duplicate key {self.key!r} on line {self.first_line} and again on line "
            f"{self.line}: YAML would keep only the last value; delete one of them"
        )

    def problem(self, file: str) -> Problem:
        return Problem(file, self.field, self.reason)


def parse(text: str) -> tuple[Any, list[DuplicateKey]]:
    """The document's value (as ``yaml.safe_load``) and every duplicate key in it.

    Raises ``yaml.YAMLError`` like ``yaml.safe_load`` when the text is not one YAML
    document; callers report that as they always have.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        duplicates = list(_duplicates(loader, node, "", set()))
        return loader.construct_document(node), duplicates
    finally:
        loader.dispose()


def duplicate_keys(file: Path) -> list[DuplicateKey]:
    """Every duplicate key in ``file``; none when it cannot be read or parsed.

    An unreadable or malformed file is not a duplicate problem: the reader that loads
    it next reports that, with its position.
    """
    try:
        return parse(file.read_text(encoding="utf-8"))[1]
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []


def duplicate_problems(file: Path, shown: str) -> list[Problem]:
    """``duplicate_keys`` as problems of ``shown`` (the file as messages name it)."""
    return [duplicate.problem(shown) for duplicate in duplicate_keys(file)]


def load_yaml(file: Path, shown: str | None = None) -> Any:
    """``yaml.safe_load`` of ``file``, or a ``ConfigError`` listing every duplicate key.

    ``OSError``, ``UnicodeDecodeError`` and ``yaml.YAMLError`` pass through unchanged.
    """
    value, duplicates = parse(file.read_text(encoding="utf-8"))
    if duplicates:
        raise ConfigError(
            [d.problem(shown if shown is not None else str(file)) for d in duplicates]
        )
    return value


def _duplicates(
    loader: yaml.SafeLoader, node: yaml.Node, path: str, seen: set[int]
) -> Iterator[DuplicateKey]:
    """Walk the node tree once (an alias points at a node already walked, so ``seen``)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(loader, item, f"{path}[{index}]", seen)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[Any, yaml.Node] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            yield from _duplicates(loader, value_node, path, seen)
            continue
        written = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        field = f"{path}.{written}" if path else written
        if isinstance(key_node, yaml.ScalarNode):  # other keys: construction rejects them
            # Equal as Python values, as in the dict PyYAML builds (1, 1.0 and true collide).
            earlier = first.setdefault(loader.construct_object(key_node), key_node)
            if earlier is not key_node:
                yield DuplicateKey(
                    field, written, earlier.start_mark.line + 1, key_node.start_mark.line + 1
                )
        yield from _duplicates(loader, value_node, field, seen)
