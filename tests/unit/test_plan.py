"""Planning's words for a promoted model whose content the target already holds.

Which version the stack serves comes from its outputs (read through the Pulumi backend);
here it is given, so the decision alone is tested. The real engine runs it in
tests/integration/test_rollback.py.
"""

from __future__ import annotations

import pytest

from mlstack import plan

Versions = tuple[str, str, str | None]  # held (pinned), latest registered, served


@pytest.mark.parametrize(
    ("versions", "said"),
    [
        (("1", "2", "2"), ("rollback to version 1 (now serving 2; from local:1)",
                           "model m: rollback to version 1 (now serving 2)")),
        (("1", "3", "2"), ("rollback to version 1 (now serving 2; from local:1)",
                           "model m: rollback to version 1 (now serving 2)")),
        (("1", "2", "1"), ("unchanged (version 1, from local:1)", "")),
        (("2", "2", "1"), ("back to version 2 (now serving 1; from local:1)",
                           "model m: back to version 2 (now serving 1)")),
        # The stack's outputs cannot be read: the latest version stands in for the served one.
        (("1", "2", None), ("rollback to version 1 (latest is 2; from local:1)",
                            "model m: rollback to version 1 (latest is 2)")),
        (("2", "2", None), ("unchanged (version 2, from local:1)", "")),
    ],
    ids=["rollback", "below-latest", "rolled-back", "forward", "no-outputs", "latest"],
)  # fmt: skip
def test_what_a_pin_of_a_held_version_does(
    monkeypatch: pytest.MonkeyPatch, versions: Versions, said: tuple[str, str]
) -> None:
    held, latest, served = versions
    monkeypatch.setattr(plan, "_served_version", lambda _ctx, _name: served)
    ctx = None  # read only by _served_version
    assert plan._return_to(ctx, "m", held, latest, "local:1") == said  # type: ignore[arg-type]
