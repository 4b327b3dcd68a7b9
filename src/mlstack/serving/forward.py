"""The router's HTTP/1.1 client: keep-alive connections to deployments, nothing more.

The router only ever sends small, fixed-length bodies to servers on loopback, and a
general client (httpx) spent more CPU per request on pool bookkeeping than the whole rest
of the router. This one is an ``asyncio`` stream plus ``h11`` per connection, and an idle
list per origin.

Errors, so the router can tell a retry from a report::

    ForwardError                   base: the request got no answer
    ├── ConnectError               nothing listens at the deployment's address
    ├── ConnectionLostError        the connection broke before a whole answer came back
    │                              (a stale pooled connection, a server that stopped)
    └── ForwardTimeoutError        no whole answer within the time allowed

A connection that saw any error is closed, never pooled again.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

MAX_IDLE_PER_ORIGIN = 64  # beyond this, finished connections are closed, not pooled
MAX_OPEN_PER_ORIGIN = 256  # beyond this, requests wait for a connection to free up
READ_CHUNK = 64 * 1024


class ForwardError(Exception):
    """The request to a deployment got no answer."""


class ConnectError(ForwardError):
    """The deployment's address refused or did not take the connection."""


class ConnectionLostError(ForwardError):
    """The connection closed or broke before the whole answer arrived."""


class ForwardTimeoutError(ForwardError):
    """No whole answer (or no connection) within the time allowed."""


@dataclass(frozen=True)
class Answer:
    """A deployment's whole answer."""

    status: int
    content_type: str | None
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Origin:
    """Where a base URL's requests go: ``host``/``port`` to dial, ``host_header`` to send."""

    scheme: str
    host: str
    port: int
    host_header: bytes
    path_prefix: str


@functools.lru_cache(maxsize=256)
def parse_base_url(url: str) -> Origin:
    """``http://127.0.0.1:8001`` (or ``https://…/prefix``) → its origin; cached per URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a deployment URL must be http(s)://host[:port]; got {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Origin(parts.scheme, parts.hostname, port, parts.netloc.encode(), parts.path.rstrip("/"))


class _Connection:
    """One keep-alive HTTP/1.1 connection; ``h11`` keeps its protocol state."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    def reusable(self) -> bool:
        # The peer closed it while idle (e.g. uvicorn's keep-alive timeout): EOF is queued.
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()

    async def exchange(
        self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Answer:
        conn = self.h11
        request = h11.Request(method=method, target=target, headers=headers)
        # One write, so head and body leave in one segment.
        events = (request, h11.Data(data=body), h11.EndOfMessage())
        self.writer.write(b"".join(conn.send(e) or b"" for e in events))
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(READ_CHUNK)
                conn.receive_data(data)  # b"" marks EOF: h11 then raises or ends the body
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionLostError("the deployment closed the connection mid-answer")
            # InformationalResponse (1xx): keep reading for the final answer.
        assert response is not None
        content_type = None
        for name, value in response.headers:
            if name == b"content-type":
                content_type = value.decode("latin-1")
                break
        return Answer(response.status_code, content_type, b"".join(chunks))

    def finish(self) -> bool:
        """Ready the connection for its next request; False if it cannot take one."""
        conn = self.h11
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            return self.reusable()
        return False


class _Pool:
    """Idle connections to one origin, most recently used first."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(MAX_OPEN_PER_ORIGIN)
        self.closed = False

    async def connect(self, timeout_s: float) -> _Connection:
        while self.idle:
            connection = self.idle.pop()
            if connection.reusable():
                return connection
            connection.close()
        origin = self.origin
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(
                    origin.host,
                    origin.port,
                    ssl=ssl.create_default_context() if origin.scheme == "https" else None,
                    limit=READ_CHUNK,
                )
        except TimeoutError:
            raise ForwardTimeoutError(f"no connection to {origin.host}:{origin.port}") from None
        except OSError as error:
            raise ConnectError(f"{origin.host}:{origin.port}: {error}") from error
        return _Connection(reader, writer)

    def release(self, connection: _Connection, healthy: bool) -> None:
        if healthy and not self.closed and len(self.idle) < MAX_IDLE_PER_ORIGIN:
            self.idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        self.closed = True
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class Forwarder:
    """Sends requests to deployments over pooled keep-alive connections (one per origin)."""

    def __init__(self) -> None:
        self._pools: dict[Origin, _Pool] = {}

    async def request(
        self,
        method: str,
        base_url: str,
        path: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        timeout_s: float,
        connect_timeout_s: float = 2.0,
    ) -> Answer:
        """One request, answered within ``timeout_s`` (connecting within ``connect_timeout_s``)."""
        origin = parse_base_url(base_url)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(origin)
        headers = [(b"host", origin.host_header), (b"content-length", b"%d" % len(body))]
        if content_type is not None:
            headers.append((b"content-type", content_type.encode("latin-1")))
        target = (origin.path_prefix + path).encode()
        async with pool.slots:
            connection = await pool.connect(min(connect_timeout_s, timeout_s))
            healthy = False
            try:
                async with asyncio.timeout(timeout_s):
                    answer = await connection.exchange(method.encode(), target, headers, body)
                healthy = connection.finish()
            except TimeoutError:
                raise ForwardTimeoutError(f"no answer within {timeout_s} s") from None
            except (OSError, h11.ProtocolError, asyncio.IncompleteReadError) as error:
                raise ConnectionLostError(f"{type(error).__name__}: {error}") from error
            finally:
                pool.release(connection, healthy)
        return answer

    def keep_only(self, base_urls: set[str]) -> None:
        """Close the idle connections of origins no longer routed to."""
        keep = {parse_base_url(url) for url in base_urls}
        for origin in [o for o in self._pools if o not in keep]:
            self._pools.pop(origin).close()

    async def aclose(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        await asyncio.sleep(0)  # let the transports finish closing
