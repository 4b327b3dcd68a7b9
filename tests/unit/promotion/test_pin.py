"""The pin is written round-trip: in any layout, the diff is the pin's lines and no other."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from mlstack.config.stack import Promotion, Promotions
from mlstack.errors import ConfigError
from mlstack.promotion.pin import pin

REPO = Path(__file__).resolve().parents[3]
OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
SHOWN = "stacks/Pulumi.prod.yaml"


def promotion(version: str = "3", digest: str = NEW, source: str = "local") -> Promotion:
    return Promotion.model_validate({"from": source, "version": version, "digest": digest})


def changes(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines a reviewer sees removed and added."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d[:2] == "- "], [d[2:] for d in diff if d[:2] == "+ "]


def pinned(text: str, name: str = "digits-cnn", kind: str = "model", **kw: str) -> str:
    after = pin(text, kind, name, promotion(**kw), SHOWN)
    block = yaml.safe_load(after)["config"]["mlstack:promotions"]
    Promotions.model_validate(block)  # what the program reads back
    return after


def test_the_shipped_stack_file_gets_the_block_and_nothing_else() -> None:
    text = (REPO / "stacks" / "Pulumi.local-prod.yaml").read_text()
    after = pinned(text)
    assert changes(text, after) == ([], [
        "  mlstack:promotions:",
        "    models:",
        "      digits-cnn:",
        "        from: local",
        "        version: '3'",
        f"        digest: {NEW}",
    ])  # fmt: skip
    # the block closes the config, before the salt
    assert after.index("mlstack:promotions") < after.index("encryptionsalt")


FOUR = f"""\
# production, four-space indentation
config:
    mlstack:target: local
    mlstack:promotions:
        # pins written by `mlstack promote`; review each one
        models:
            digits-cnn:
                from: local
                version: '1'   # first release
                digest: {OLD}
        data:
            digits-val:
                from: local
                version: '2'
                digest: {OLD}
    # after the block: tags
    mlstack:tags:
        env: prod
    team:owners:
      - ml-platform
      - data-team
encryptionsalt: v1:abc
"""


def test_four_spaces_an_existing_pin_changes_only_its_values() -> None:
    after = pinned(FOUR)
    assert changes(FOUR, after) == (
        ["                version: '1'   # first release", f"                digest: {OLD}"],
        ["                version: '3'   # first release", f"                digest: {NEW}"],
    )


def test_four_spaces_a_new_pin_is_added_inside_the_block() -> None:
    after = pinned(FOUR, name="other-model")
    assert changes(FOUR, after) == ([], [
        "            other-model:",
        "                from: local",
        "                version: '3'",
        f"                digest: {NEW}",
    ])  # fmt: skip
    lines = after.splitlines()
    # right after the last model pin, before the data section
    assert lines[lines.index("            other-model:") - 1] == f"                digest: {OLD}"
    assert lines[lines.index("            other-model:") + 4] == "        data:"


def test_a_new_section_goes_before_the_comment_that_followed_the_block() -> None:
    text = FOUR.replace(
        f"        data:\n            digits-val:\n                from: local\n"
        f"                version: '2'\n                digest: {OLD}\n",
        "",
    )
    assert "data:" not in text
    after = pinned(text, name="digits-val", kind="data")
    removed, added = changes(text, after)
    assert removed == []
    assert added == ["        data:", "            digits-val:", "                from: local",
                     "                version: '3'", f"                digest: {NEW}"]  # fmt: skip
    lines = after.splitlines()
    comment = lines.index("    # after the block: tags")
    assert lines[comment - 1] == f"                digest: {NEW}"  # the block, then the comment
    assert lines[comment + 1] == "    mlstack:tags:"


TWO = f"""\
config:
  mlstack:target: local   # offline
  mlstack:tags:
    env: prod
  mlstack:promotions:
    models:
      digits-cnn:
        digest: {OLD}
        from: local
        version: '1'
# the end
encryptionsalt: v1:abc
"""


def test_two_spaces_and_the_old_sorted_order_keep_their_order() -> None:
    after = pinned(TWO)
    assert changes(TWO, after) == (
        [f"        digest: {OLD}", "        version: '1'"],
        [f"        digest: {NEW}", "        version: '3'"],
    )
    assert after.endswith("# the end\nencryptionsalt: v1:abc\n")


def test_two_spaces_a_comment_after_the_last_pin_stays_after_the_new_one() -> None:
    text = TWO.replace("# the end\nencryptionsalt", "  # no more pins below\nencryptionsalt")
    after = pinned(text, name="second")
    assert changes(text, after) == ([], [
        "      second:", "        from: local", "        version: '3'", f"        digest: {NEW}",
    ])  # fmt: skip
    assert after.splitlines()[-2:] == ["  # no more pins below", "encryptionsalt: v1:abc"]


FLOW = f"""\
config:
  mlstack:target: local
  mlstack:tags: {{env: prod, owner: ml-platform}}
  mlstack:promotions: {{models: {{digits-cnn: {{from: local, version: '1', digest: {OLD}}}}}}}
  mlstack:description: flow style
"""


def test_flow_style_stays_flow_on_its_one_line() -> None:
    after = pinned(FLOW)
    [removed], [added] = changes(FLOW, after)
    assert removed.startswith("  mlstack:promotions: {") and added.startswith(
        "  mlstack:promotions: {"
    )
    assert f"version: '3', digest: {NEW}" in added
    after = pinned(FLOW, name="second")
    [removed], [added] = changes(FLOW, after)
    assert f"second: {{from: local, version: '3', digest: {NEW}}}" in added


def test_lines_the_editor_would_reformat_are_left_as_written() -> None:
    """Extra spaces, trailing blanks, a document marker and sequences in a layout of their
    own: ruamel would rewrite them; the edit is applied to the file as written instead."""
    text = (
        "---\n"
        "config:\n"
        "  mlstack:target:    local   \n"
        "  mlstack:tags:\n"
        "      env:   prod\n"
        "  team:list:\n"
        "  -   a\n"
        "  # before the pins\n"
        "  mlstack:promotions:\n"
        "    models: {}\n"
        "encryptionsalt: v1:abc"  # no final newline
    )
    after = pinned(text)
    # an empty flow mapping that gains an entry is written in block style
    assert changes(text, after) == (["    models: {}"], [
        "    models:",
        "      digits-cnn:",
        "        from: local",
        "        version: '3'",
        f"        digest: {NEW}",
    ])  # fmt: skip
    kept = [line for line in text.splitlines() if line != "    models: {}"]
    assert all(line in after.splitlines() for line in kept)


def test_an_empty_block_and_a_file_without_config() -> None:
    text = "config:\n  mlstack:target: local\n  mlstack:promotions:\n"
    assert changes(text, pinned(text, kind="data", name="d"))[0] == []
    bare = "# only the salt so far\nencryptionsalt: v1:abc\n"
    after = pinned(bare)
    assert changes(bare, after)[0] == []
    assert after.startswith(bare)


def test_pinning_the_same_version_again_changes_nothing() -> None:
    once = pinned(FOUR)
    assert pinned(once) == once


def test_a_block_that_is_not_a_mapping_is_refused_with_its_field() -> None:
    text = "config:\n  mlstack:promotions: yes please\n"
    with pytest.raises(ConfigError) as caught:
        pin(text, "model", "m", promotion(), SHOWN)
    [problem] = caught.value.problems
    assert (problem.file, problem.field) == (SHOWN, "mlstack:promotions")
    assert "must be a mapping" in problem.reason
    with pytest.raises(ConfigError, match="not YAML"):
        pin("config: [unclosed\n", "model", "m", promotion(), SHOWN)


def _through_registry(version: str = "3") -> Promotion:
    return Promotion.model_validate({"from": "dev", "version": version, "digest": NEW,
                                     "via": "registry", "registry": "mlstack-shared"})  # fmt: skip


def test_a_registry_pin_adds_via_and_registry_and_a_workspace_pin_drops_them() -> None:
    text = (REPO / "stacks" / "Pulumi.prod.yaml").read_text()
    shared = pin(text, "model", "digits-cnn", _through_registry(), SHOWN)
    assert changes(text, shared)[1][-3:] == [
        f"        digest: {NEW}", "        via: registry", "        registry: mlstack-shared",
    ]  # fmt: skip
    copied = pin(shared, "model", "digits-cnn", promotion(source="dev"), SHOWN)
    removed, added = changes(shared, copied)
    assert (removed, added) == (["        via: registry", "        registry: mlstack-shared"], [])
    entry = yaml.safe_load(copied)["config"]["mlstack:promotions"]["models"]["digits-cnn"]
    assert entry == {"from": "dev", "version": "3", "digest": NEW}  # a workspace pin again


def test_a_registry_pin_must_name_its_registry_and_only_with_via_registry() -> None:
    with pytest.raises(ValueError, match="`via: registry` needs `registry:"):
        Promotion.model_validate({"from": "dev", "version": "3", "digest": NEW,
                                  "via": "registry"})  # fmt: skip
    with pytest.raises(ValueError, match="only read with `via: registry`"):
        Promotion.model_validate({"from": "dev", "version": "3", "digest": NEW,
                                  "registry": "mlstack-shared"})  # fmt: skip
