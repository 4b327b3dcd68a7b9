"""Request bodies: the size limit, answered so the client can read it, and JSON nesting.

**Size.** A body over the endpoint's ``max_body_bytes`` is answered 413. The rest of it
is still read and thrown away, up to ``DRAIN_MAX_BYTES`` (32 MiB) or ``DRAIN_MAX_S``
(30 s): a server that answers and closes while the client is still sending makes the
kernel reset the connection, and the client sees "connection reset" (or a broken pipe
on its next write) instead of the 413. Past those bounds the connection is closed
anyway, so a client cannot hold a server reading forever.

**Nesting.** JSON nested deeper than ``MAX_JSON_DEPTH`` (64) levels is refused with 400
before any scoring script sees it: Python's ``json`` recurses once per level, so a
request nesting thousands of levels would end in a RecursionError inside the script (a
500, and 424 from the router). 64 is the default ``MaxDepth`` of .NET's System.Text.Json
and far above what a scoring payload needs (a batch of colour images is 4 levels). The
depth is measured without parsing: brackets are counted outside strings.
"""

from __future__ import annotations

import re
import time
from itertools import accumulate

from starlette.requests import Request

DRAIN_MAX_BYTES = 32 * 1024 * 1024
DRAIN_MAX_S = 30.0
MAX_JSON_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class BodyTooLargeError(Exception):
    """The body exceeds the limit; ``drained`` says whether all of it was read."""

    def __init__(self, drained: bool) -> None:
        super().__init__("the request body exceeds the limit")
        self.drained = drained


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or ``BodyTooLargeError`` once it is known to exceed ``limit``,
    after reading (and discarding) what is left of it within the drain bounds."""
    declared = request.headers.get("content-length")
    too_large = declared is not None and declared.isdigit() and int(declared) > limit
    if too_large and declared is not None and int(declared) > DRAIN_MAX_BYTES:
        raise BodyTooLargeError(drained=False)  # more than we would read: close instead
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + DRAIN_MAX_S
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_large = True
        if not too_large:
            chunks.append(chunk)
        elif size > DRAIN_MAX_BYTES or time.monotonic() > deadline:
            raise BodyTooLargeError(drained=False)
    if too_large:
        raise BodyTooLargeError(drained=True)
    return b"".join(chunks)


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON in ``body`` nests arrays and objects more than ``limit`` levels.

    Invalid JSON is measured all the same (it is refused either way).
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case: too few brackets to nest that deep
    if b'"' in body:
        body = _STRING.sub(b"", body)  # brackets inside strings do not nest
    brackets = body.translate(None, _NOT_A_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def too_deep_message(limit: int = MAX_JSON_DEPTH) -> str:
    return (
        f"the request JSON nests deeper than {limit} levels: send a flatter document "
        "(arrays of arrays only as deep as the data needs)"
    )
