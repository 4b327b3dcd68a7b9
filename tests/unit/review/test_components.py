"""A component's change in a review: its own section, with the preview's change summary."""

from __future__ import annotations

from typing import Any

from mlstack.review import render_markdown, summarise
from tests.unit.review.test_summary import DYN, preview, step


def component(digest: str, changes: str, **more: Any) -> dict[str, Any]:
    return {"name": "train_digits", "digest": digest, "files": 3, "bytes": 4096,
            "changes": changes, "description": "train", **more}  # fmt: skip


def test_a_new_component_version_shows_what_changed() -> None:
    changed = step("update", f"{DYN}:ComponentVersion", "component-train_digits",
                   component("sha256:aa", "new component (+3 files)"),
                   component("sha256:bb", "code: 1 changed; inputs: +threshold since version 1"),
                   {"version": "1"})  # fmt: skip
    review = summarise("s", preview(changed))
    (item,) = review.components
    assert (item.name, item.new_version, item.from_version) == ("train_digits", True, "1")
    assert review.infrastructure == () and review.assets == ()
    text = render_markdown([review])
    assert "Components" in text
    assert "code: 1 changed; inputs: +threshold since version 1" in text


def test_a_description_change_is_in_place() -> None:
    old = component("sha256:aa", "no changes (version 2)")
    new = {**old, "description": "better words"}
    changed = step("update", f"{DYN}:ComponentVersion", "component-train_digits", old, new,
                   {"version": "2"})  # fmt: skip
    (item,) = summarise("s", preview(changed)).components
    assert not item.new_version and item.changed == ("description",)
