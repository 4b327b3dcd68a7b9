"""Request bodies: JSON nesting measured without parsing, and draining past the limit."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.requests import Request
from starlette.types import Message

from mlstack.serving import payload
from mlstack.serving.payload import MAX_JSON_DEPTH, BodyTooLargeError, read_body, too_deep


def test_depth_is_counted_outside_strings() -> None:
    at_bound = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert not too_deep(at_bound.encode())
    assert too_deep(("[" + at_bound + "]").encode())
    assert too_deep(b'{"a": ' * 65 + b"1" + b"}" * 65)
    brackets_in_strings = json.dumps({"s": "[" * 500, "t": 'a\\"[[[' * 100, "n": [[1]]})
    assert not too_deep(brackets_in_strings.encode())
    wide = json.dumps({"data": [[1, 2, 3]] * 10_000})  # many brackets, shallow
    assert not too_deep(wide.encode())
    assert not too_deep(b"")


def request_of(chunks: list[bytes], content_length: int | None) -> tuple[Request, list[int]]:
    """A request whose body arrives in ``chunks``; the list counts the chunks read."""
    headers = [] if content_length is None else [(b"content-length", b"%d" % content_length)]
    scope = {"type": "http", "method": "POST", "path": "/score", "headers": headers}
    sent = [0]

    async def receive() -> Message:
        index = sent[0]
        sent[0] += 1
        more = index + 1 < len(chunks)
        return {"type": "http.request", "body": chunks[index], "more_body": more}

    return Request(scope, receive), sent


@pytest.mark.parametrize("declared", [True, False])
def test_an_oversized_body_is_read_to_its_end_before_the_refusal(declared: bool) -> None:
    chunks = [b"x" * 1000] * 20
    request, sent = request_of(chunks, 20_000 if declared else None)
    with pytest.raises(BodyTooLargeError) as caught:
        asyncio.run(read_body(request, limit=4096))
    assert caught.value.drained
    assert sent[0] == len(chunks)  # everything was read, so nothing is left to reset


def test_a_body_past_the_drain_bound_is_not_read_to_its_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(payload, "DRAIN_MAX_BYTES", 10_000)
    request, sent = request_of([b"x" * 1000] * 20, None)
    with pytest.raises(BodyTooLargeError) as caught:
        asyncio.run(read_body(request, limit=4096))
    assert not caught.value.drained
    assert sent[0] == 11
    declared, sent = request_of([b"x" * 1000] * 20, 20_000)
    with pytest.raises(BodyTooLargeError):
        asyncio.run(read_body(declared, limit=4096))
    assert sent[0] == 0  # known from Content-Length: not worth reading


def test_a_body_within_the_limit_is_returned_whole() -> None:
    request, _ = request_of([b"ab", b"cd"], 4)
    assert asyncio.run(read_body(request, limit=4)) == b"abcd"
