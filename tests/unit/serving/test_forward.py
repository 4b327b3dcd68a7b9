"""The router's forwarding client, against scripted servers on loopback (no deployment)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from mlstack.services.azurite import free_port
from mlstack.serving.forward import (
    ConnectError,
    ConnectionLostError,
    Forwarder,
    ForwardTimeoutError,
    parse_base_url,
)

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


def run_against(handler: Handler, test: Callable[[Forwarder, str], Awaitable[None]]) -> None:
    """Serve ``handler`` on a free port, run ``test`` with a fresh Forwarder, clean up."""

    async def main() -> None:
        handlers: list[asyncio.Task[None]] = []
        writers: list[asyncio.StreamWriter] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            task = asyncio.current_task()
            assert task is not None
            handlers.append(task)
            await handler(reader, writer)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        forwarder = Forwarder()
        try:
            await test(forwarder, url)
        finally:
            await forwarder.aclose()
            server.close()
            await asyncio.wait_for(asyncio.gather(*handlers), 5)
            for writer in writers:
                writer.close()
            await server.wait_closed()

    asyncio.run(main())


def test_answers_come_back_whole_and_connections_are_reused() -> None:
    connections: list[int] = []
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                seen.append(await read_request(reader))
                writer.write(OK)
        except asyncio.IncompleteReadError:
            writer.close()

    async def test(forwarder: Forwarder, url: str) -> None:
        for _ in range(3):
            answer = await forwarder.request(
                "POST", url, "/score", body=b'{"a": 1}', content_type="application/json",
                timeout_s=5,
            )  # fmt: skip
            assert (answer.status, answer.body) == (200, b"{}")
            assert answer.content_type == "application/json"

    run_against(handler, test)
    assert len(connections) == 1
    assert seen[0].startswith(b"POST /score HTTP/1.1\r\n")
    assert seen[0].endswith(b'\r\n\r\n{"a": 1}')


def test_chunked_answers_are_joined() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")  # fmt: skip
        await writer.drain()
        writer.close()

    async def test(forwarder: Forwarder, url: str) -> None:
        answer = await forwarder.request("GET", url, "/ready", timeout_s=5)
        assert (answer.status, answer.content_type, answer.text) == (400, None, "abcde")

    run_against(handler, test)


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await read_request(reader)
        writer.write(OK)  # keep-alive by HTTP/1.1 rules, but closed right away
        await writer.drain()
        writer.close()

    async def test(forwarder: Forwarder, url: str) -> None:
        await forwarder.request("GET", url, "/ready", timeout_s=5)
        await asyncio.sleep(0.1)  # the FIN reaches the idle pooled connection
        assert (await forwarder.request("GET", url, "/ready", timeout_s=5)).status == 200

    run_against(handler, test)
    assert len(connections) == 2


def test_a_connection_closed_mid_answer_is_lost_not_answered() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK[:-1])  # one byte of the body short
        await writer.drain()
        writer.close()

    async def test(forwarder: Forwarder, url: str) -> None:
        with pytest.raises(ConnectionLostError):
            await forwarder.request("GET", url, "/ready", timeout_s=5)

    run_against(handler, test)


def test_no_answer_in_time_is_a_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        assert await reader.read() == b""  # no answer, until the client gives up and closes
        writer.close()

    async def test(forwarder: Forwarder, url: str) -> None:
        with pytest.raises(ForwardTimeoutError):
            await forwarder.request("GET", url, "/ready", timeout_s=0.2)

    run_against(handler, test)


def test_nothing_listening_is_a_connect_error() -> None:
    async def main() -> None:
        forwarder = Forwarder()
        with pytest.raises(ConnectError):
            await forwarder.request("GET", f"http://127.0.0.1:{free_port()}", "/", timeout_s=5)
        await forwarder.aclose()

    asyncio.run(main())


def test_base_urls_parse_into_origins() -> None:
    origin = parse_base_url("http://127.0.0.1:8001/")
    assert (origin.host, origin.port, origin.host_header, origin.path_prefix) == (
        "127.0.0.1", 8001, b"127.0.0.1:8001", "",
    )  # fmt: skip
    assert parse_base_url("https://example.org/v1/").port == 443
    assert parse_base_url("https://example.org/v1/").path_prefix == "/v1"
    with pytest.raises(ValueError, match="http"):
        parse_base_url("ftp://example.org")
