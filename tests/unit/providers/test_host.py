"""The provider host renders mlstack's own errors as their message, anything else in full."""

from __future__ import annotations

import traceback

from mlstack.errors import ServiceError
from mlstack.providers.host import expected_failures_as_messages

render = expected_failures_as_messages(traceback.format_exc)


def test_an_error_raised_on_purpose_is_its_message_alone() -> None:
    try:
        raise ServiceError("Azurite is not running: start it with `mlstack local start`")
    except ServiceError:
        shown = render()
    assert shown == "Azurite is not running: start it with `mlstack local start`"


def test_a_bug_keeps_its_whole_traceback() -> None:
    try:
        {}["missing"]
    except KeyError:
        shown = render()
    assert shown.startswith("Traceback (most recent call last):")
    assert "KeyError: 'missing'" in shown
