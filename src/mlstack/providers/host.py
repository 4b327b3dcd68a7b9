"""mlstack's dynamic-provider host: Pulumi's own, with expected failures read as one line.

Pulumi runs dynamic providers in ``python -m pulumi.dynamic``, whose every RPC is wrapped
in ``_abort_with_traceback``: any exception reaches the user as a full Python traceback,
twenty lines of gRPC plumbing before the one that says what to do ("Azurite is not
running: start it with `mlstack local start`"). The module runs its server at import, so
it cannot be subclassed; the wrapper calls ``traceback.format_exc()`` inside its
``except`` block, so this entry point runs the same module after making that call render
an :class:`~mlstack.errors.MlstackError` — an error raised on purpose, whose message says
what to do — as its message alone. Anything else (a bug) keeps its full traceback.

``tools/pulumi/pulumi-resource-pulumi-python`` starts this module in place of the SDK's.
"""

from __future__ import annotations

import runpy
import sys
import traceback
from collections.abc import Callable

from mlstack.errors import MlstackError

__all__ = ["expected_failures_as_messages", "main"]


def expected_failures_as_messages(format_exc: Callable[..., str]) -> Callable[..., str]:
    """``format_exc`` that renders the exception being handled, if it is ours, as its message."""

    def render(*args: object, **kwargs: object) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, MlstackError):
            return str(error)
        return format_exc(*args, **kwargs)

    return render


def main() -> None:
    traceback.format_exc = expected_failures_as_messages(traceback.format_exc)
    runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
