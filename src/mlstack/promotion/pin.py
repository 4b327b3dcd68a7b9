"""The promotion pin: ``mlstack:promotions`` in the target's stack file, edited round-trip.

The stack file is a reviewed artefact, so the diff ``mlstack promote`` leaves must be the
pin and nothing else. ruamel.yaml's round-trip mode keeps comments, key order, quoting and
flow style. What it would still normalise on the way out (indentation it cannot represent,
spacing it does not record, a missing final newline) is kept out of the file by applying
only the *edit*, never a re-rendering:

1. the file is loaded round-trip and dumped unchanged, with the indentation that reproduces
   it best (tried from the file's own): the *base*;
2. the pin is set in the loaded document, which is dumped again: the *edited* text;
3. the base → edited difference is applied to the file as written. An edit that would
   touch a line the base does not reproduce verbatim is refused, never applied loosely.

A new key goes right after the previous key's value: comment lines that followed that
value (ruamel attaches them to it) stay below the new key, where they were. The result is
checked by parsing: everything but the pinned entry is what it was.
"""

from __future__ import annotations

import copy
import io
from difflib import SequenceMatcher
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from mlstack.config.stack import NAMESPACE, Promotion
from mlstack.errors import ConfigError, Problem

__all__ = ["KEY", "SECTIONS", "pin"]

KEY = f"{NAMESPACE}:promotions"
SECTIONS = {"model": "models", "data": "data"}
"""The ``mlstack:promotions`` section each asset kind is pinned under."""

Layout = tuple[int, int, int]  # ruamel's mapping indent, sequence indent, sequence dash offset


def pin(text: str, kind: str, name: str, promotion: Promotion, shown: str) -> str:
    """``text`` (a stack file, ``shown`` in messages) with ``promotion`` pinned as
    ``mlstack:promotions.<models|data>.<name>``, and no other line changed."""
    text = text if not text or text.endswith("\n") else text + "\n"
    try:
        document = _yaml((2, 2, 0)).load(text)
    except YAMLError as error:
        reason = f"not YAML ({str(error).splitlines()[0]}): fix it first"
        raise _problem(shown, "", reason) from None
    layout = _layout(text, document)
    base = _dump(document, layout) if document is not None else ""
    edited = document if document is not None else CommentedMap()
    _set(edited, SECTIONS[kind], name, promotion, shown)
    result = _apply(text, base, _dump(edited, layout), shown)
    _check(text, result, section=SECTIONS[kind], name=name, promotion=promotion, shown=shown)
    return result


def _problem(shown: str, field: str, reason: str) -> ConfigError:
    return ConfigError([Problem(shown, field, reason)])


def _yaml(layout: Layout) -> YAML:
    loader = YAML()  # round-trip
    loader.preserve_quotes = True
    loader.width = 1 << 16  # never re-wrap a long line
    mapping, sequence, offset = layout
    loader.indent(mapping=mapping, sequence=sequence, offset=offset)
    return loader


def _dump(document: Any, layout: Layout) -> str:
    out = io.StringIO()
    _yaml(layout).dump(document, out)
    return out.getvalue()


def _layout(text: str, document: Any) -> Layout:
    """The indentation that reproduces ``text`` exactly, else the one closest to it."""
    if document is None:
        return (2, 2, 0)
    _, guessed, dash = load_yaml_guess_indent(text)
    mappings = dict.fromkeys([guessed or 2, 2, 4, 3])
    offsets = dict.fromkeys([dash or 0, 0, 2])
    best, score = (2, 2, 0), -1.0
    lines = text.splitlines()
    for mapping in mappings:
        for offset in dict.fromkeys([*offsets, mapping]):
            for sequence in dict.fromkeys([offset + 2, mapping, offset + mapping]):
                if sequence < offset + 2:
                    continue
                layout = (mapping, sequence, offset)
                dumped = _dump(document, layout)
                if dumped == text:
                    return layout
                ratio = SequenceMatcher(None, lines, dumped.splitlines(), autojunk=False).ratio()
                if ratio > score:
                    best, score = layout, ratio
    return best


def _set(document: Any, section: str, name: str, promotion: Promotion, shown: str) -> None:
    """Pin ``promotion`` at ``config.mlstack:promotions.<section>.<name>``: an existing entry
    in place (its key order and comments stay), else what is missing, added in one piece."""
    if not isinstance(document, CommentedMap):
        raise _problem(shown, "", "is not a mapping of `config:` and settings: fix it first")
    values = CommentedMap(promotion.model_dump(by_alias=True))
    path = ["config", KEY, section, name]
    parent = document
    for depth, key in enumerate(path):
        value = parent.get(key)
        if isinstance(value, CommentedMap):
            parent = value
            continue
        if value is not None:
            field = ".".join(path[: depth + 1]).removeprefix("config.")
            raise _problem(shown, field, f"must be a mapping, not {value!r}: fix it first")
        for inner in reversed(path[depth + 1 :]):
            values = CommentedMap([(inner, values)])
        _append(parent, key, values)
        return
    for key, value in values.items():
        parent[key] = value
    for key in [k for k in parent if k not in values]:  # e.g. `via` of an earlier route
        _drop(parent, key)


def _drop(mapping: CommentedMap, key: str) -> None:
    """``del mapping[key]``, keeping the comment lines ruamel hung on it (the lines that
    followed its value): they move to the key before it."""
    token = mapping.ca.items.pop(key, [None, None, None, None])[2]
    keys = list(mapping)
    del mapping[key]
    before = keys[keys.index(key) - 1] if keys.index(key) > 0 else None
    if token is None or before is None or "\n" not in token.value:
        return
    slot = mapping.ca.items.setdefault(before, [None, None, None, None])
    if slot[2] is None:
        slot[2] = token


def _append(mapping: CommentedMap, key: str, value: CommentedMap) -> None:
    """``mapping[key] = value`` (a new key, or a null value replaced), placed right after
    the previous value: the comment lines that followed it move below the new one."""
    held = _trailing(mapping) if key not in mapping else None
    mapping[key] = value
    if held is not None:
        token, lines = held
        moved = copy.copy(token)
        moved.value = "\n" + lines
        leaf, leaf_key = _leaf(mapping)
        leaf.ca.items.setdefault(leaf_key, [None, None, None, None])[2] = moved


def _leaf(mapping: CommentedMap) -> tuple[CommentedMap, Any]:
    """The mapping and key whose value ends ``mapping`` in block style (ruamel hangs the
    comment lines that follow a value on the last key of the deepest such mapping)."""
    key = list(mapping)[-1]
    value = mapping[key]
    if isinstance(value, CommentedMap) and value and not value.fa.flow_style():
        return _leaf(value)
    return mapping, key


def _trailing(mapping: CommentedMap) -> tuple[Any, str] | None:
    """Split off the full comment lines after ``mapping``'s last value: the token keeps its
    own line's ending (and any inline comment); the lines are returned with it."""
    if not mapping:
        return None
    leaf, key = _leaf(mapping)
    token = leaf.ca.items.get(key, [None, None, None, None])[2]
    if token is None or "\n" not in token.value:
        return None
    own, _, lines = token.value.partition("\n")
    if not lines.strip():
        return None
    token.value = own + "\n"
    return token, lines


def _apply(original: str, base: str, edited: str, shown: str) -> str:
    """``original`` with the base → edited changes applied (see the module doc)."""
    lines = original.splitlines(keepends=True)
    rendered = base.splitlines(keepends=True)
    where: dict[int, int] = {}  # base line → the same line in the original
    for tag, i1, i2, j1, _ in SequenceMatcher(None, lines, rendered, autojunk=False).get_opcodes():
        if tag == "equal":
            where.update({j1 + k: i1 + k for k in range(i2 - i1)})
    target = edited.splitlines(keepends=True)
    edits = SequenceMatcher(None, rendered, target, autojunk=False).get_opcodes()
    result = list(lines)
    for tag, j1, j2, k1, k2 in reversed(edits):
        if tag == "equal":
            continue
        if j1 < j2:
            found = [where.get(j) for j in range(j1, j2)]
            first = found[0]
            if first is None or found != list(range(first, first + len(found))):
                raise _unreproduced(shown, rendered[j1])
            start, end = first, first + len(found)
        elif j1 in where:
            start = end = where[j1]
        elif j1 - 1 in where:
            start = end = where[j1 - 1] + 1
        elif not rendered:
            start = end = len(lines)
        else:
            raise _unreproduced(shown, rendered[min(j1, len(rendered) - 1)])
        result[start:end] = target[k1:k2]
    return "".join(result)


def _unreproduced(shown: str, line: str) -> ConfigError:
    return _problem(
        shown, KEY, f"cannot pin without rewriting a line beside the pin ({line.strip()!r} is "
        "laid out in a way the YAML editor does not keep): lay the mlstack:promotions block "
        "out with consistent indentation, then promote again",
    )  # fmt: skip


def _check(
    before: str, after: str, *, section: str, name: str, promotion: Promotion, shown: str
) -> None:
    """Parsed, ``after`` is ``before`` with the pin set — nothing else changed."""
    expected = yaml.safe_load(before) or {}
    config = expected.setdefault("config", None) or {}
    expected["config"] = config
    block = config.get(KEY) or {}
    config[KEY] = block
    entries = block.get(section) or {}
    block[section] = entries
    entries[name] = promotion.model_dump(by_alias=True)
    if yaml.safe_load(after) != expected:  # a bug here, never the user's: write nothing
        raise _problem(shown, KEY, "the YAML editor's result does not read back as the pin "
                       "alone: nothing was written; please report this")  # fmt: skip
