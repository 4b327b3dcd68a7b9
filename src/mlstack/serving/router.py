"""The endpoint router: the one process clients talk to, in front of the deployments.

It behaves like an Azure ML managed online endpoint's front door:

- ``POST /score`` needs ``Authorization: Bearer <key>`` (primary or secondary) → else 401.
- ``azureml-model-deployment: <name>`` pins a deployment (even one with 0% traffic);
  an unknown name → 404. Otherwise a deployment is drawn by weighted random choice
  over ``traffic``; when none takes traffic → 503.
- ``mirror_traffic`` sends a copy of that share of (unpinned) requests to a deployment,
  fire-and-forget; its answer is ignored.
- The answer carries ``azureml-model-deployment: <chosen>`` and ``x-request-id``.
- Bodies over ``max_body_bytes`` → 413 (by Content-Length, else counted while
  streaming), read to their end first so the client can read the answer; JSON nested
  deeper than 64 levels → 400 before any deployment sees it (see ``payload``); wrong
  method → 405; a deployment's 4xx (bad JSON, wrong shape) is passed through; its 5xx
  becomes 424 "model error", as Azure ML reports it; a timeout → 408.
- A deployment that cannot be reached → the request is retried once, on another
  deployment with traffic when there is one, so stopping a deployment after moving its
  traffic away never fails a request; if the retry fails too → 502.

The routing table is the ``--routes`` file, re-read when it changes (see ``routes``).
Keys appear there only as sha256 digests and are never logged.
Run it as ``python -m mlstack.serving.router --routes FILE --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlstack.serving.forward import (
    Answer,
    ConnectError,
    ConnectionLostError,
    Forwarder,
    ForwardError,
    ForwardTimeoutError,
)
from mlstack.serving.keys import key_matches
from mlstack.serving.payload import BodyTooLargeError, read_body, too_deep, too_deep_message
from mlstack.serving.routes import Routes, RoutesFile
from mlstack.serving.server import serve

DEPLOYMENT_HEADER = "azureml-model-deployment"
HEALTH_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 2.0
MAX_MIRRORS_IN_FLIGHT = 64  # beyond this, copies are dropped rather than queued
# Failures where the deployment went away (stopped, restarting, a stale pooled
# connection): scoring is a pure function of the body, so sending it again is safe.
RETRYABLE = (ConnectError, ConnectionLostError)

log = logging.getLogger("mlstack.serving.router")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


def _presented_key(request: Request) -> str | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


async def _scoring_body(request: Request, limit: int) -> bytes | Response:
    """The body to forward, or the 413 / 400 that refuses it (see ``payload``)."""
    try:
        body = await read_body(request, limit)
    except BodyTooLargeError as error:
        return _error(
            413,
            f"the request body exceeds this endpoint's limit of {limit} bytes",
            None if error.drained else {"Connection": "close"},  # the rest is unread
        )
    return _error(400, too_deep_message()) if too_deep(body) else body


class Router:
    """Per-process state: the routes file, the pooled connections, in-flight mirrors."""

    def __init__(self, routes_file: RoutesFile, rng: random.Random | None = None) -> None:
        self.routes_file = routes_file
        self.rng = rng or random.Random()  # noqa: S311 - traffic split, not security
        self.mirrors: set[asyncio.Task[None]] = set()
        # It never reads proxy variables: they must not divert loopback traffic.
        self.forwarder = Forwarder()
        self._pooled_for: Routes | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for task in list(self.mirrors):
                task.cancel()
            await self.forwarder.aclose()

    def _routes(self) -> Routes:
        """The current table; a new table closes idle connections to dropped deployments."""
        routes = self.routes_file.current()
        if routes is not self._pooled_for:
            self._pooled_for = routes
            self.forwarder.keep_only(set(routes.deployments.values()))
        return routes

    async def _post(self, routes: Routes, name: str, body: bytes, content_type: str) -> Answer:
        return await self.forwarder.request(
            "POST",
            routes.deployments[name],
            "/score",
            body=body,
            content_type=content_type,
            timeout_s=routes.request_timeout_ms / 1000,
            connect_timeout_s=CONNECT_TIMEOUT_S,
        )

    def _mirror(self, routes: Routes, name: str, body: bytes, content_type: str) -> None:
        if len(self.mirrors) >= MAX_MIRRORS_IN_FLIGHT:
            return

        async def send() -> None:
            with contextlib.suppress(ForwardError):
                await self._post(routes, name, body, content_type)

        task = asyncio.create_task(send())
        self.mirrors.add(task)  # a strong reference, or the task may be collected mid-flight
        task.add_done_callback(self.mirrors.discard)

    async def score(self, request: Request) -> Response:
        routes = self._routes()
        key = _presented_key(request)
        if key is None:
            return _error(
                401,
                "this endpoint needs a key: send the header 'Authorization: Bearer <key>' "
                "(`mlstack endpoint keys` prints them)",
                {"WWW-Authenticate": "Bearer"},
            )
        if not key_matches(key, routes.keys_sha256):
            return _error(
                401,
                f"the key is not valid for endpoint {routes.endpoint}: use its primary or "
                "secondary key (`mlstack endpoint keys`)",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        body = await _scoring_body(request, routes.max_body_bytes)
        if isinstance(body, Response):
            return body
        pinned = request.headers.get(DEPLOYMENT_HEADER)
        if pinned is not None:
            if pinned not in routes.deployments:
                known = ", ".join(sorted(routes.deployments)) or "none"
                return _error(
                    404,
                    f"endpoint {routes.endpoint} has no deployment {pinned!r}; "
                    f"deployments: {known}",
                )
            target = pinned
        else:
            picked = routes.pick(self.rng)
            if picked is None:
                return _error(
                    503,
                    f"no deployment takes traffic on endpoint {routes.endpoint}: set traffic "
                    f"weights, or pin one with the {DEPLOYMENT_HEADER} header",
                )
            target = picked
        content_type = request.headers.get("content-type", "application/json")
        if pinned is None:
            for name in routes.mirrors(self.rng):
                if name != target:
                    self._mirror(routes, name, body, content_type)
        return await self._forward(routes, target, pinned is not None, body, content_type)

    async def _forward(
        self, routes: Routes, target: str, pinned: bool, body: bytes, content_type: str
    ) -> Response:
        request_id = str(uuid.uuid4())
        try:
            answer = await self._post(routes, target, body, content_type)
        except RETRYABLE as first:
            # Re-read the table: the deployment may be down because traffic just moved.
            routes = self._routes()
            retry = self._retry_target(routes, target, pinned)
            if retry is None:
                return self._failed(routes, target, first, request_id)
            log.warning("deployment %s unreachable (%r); retrying on %s", target, first, retry)
            target = retry
            try:
                answer = await self._post(routes, target, body, content_type)
            except ForwardError as second:
                return self._failed(routes, target, second, request_id)
        except ForwardError as error:
            return self._failed(routes, target, error, request_id)
        reply = {DEPLOYMENT_HEADER: target, "x-request-id": request_id}
        if answer.status >= 500:
            return _error(
                424,
                f"deployment {target} failed to score the request (HTTP {answer.status}): "
                f"{_detail(answer)}",
                reply,
            )
        reply["content-type"] = answer.content_type or "application/json"
        return Response(answer.body, status_code=answer.status, headers=reply)

    def _retry_target(self, routes: Routes, failed: str, pinned: bool) -> str | None:
        if pinned:
            return failed if failed in routes.deployments else None
        other = routes.pick(self.rng, exclude=frozenset({failed}))
        if other is not None:
            return other
        # The only deployment with traffic: a stale pooled connection is worth one more try.
        return failed if routes.traffic.get(failed, 0) > 0 else None

    def _failed(self, routes: Routes, name: str, error: Exception, request_id: str) -> Response:
        reply = {DEPLOYMENT_HEADER: name, "x-request-id": request_id}
        if isinstance(error, ForwardTimeoutError):
            message = (
                f"deployment {name} did not answer within {routes.request_timeout_ms} ms "
                "(request_timeout_ms)"
            )
            return _error(408, message, reply)
        log.error("deployment %s of endpoint %s unreachable: %r", name, routes.endpoint, error)
        message = (
            f"deployment {name} of endpoint {routes.endpoint} could not be reached "
            f"({type(error).__name__}); check that it is running"
        )
        return _error(502, message, reply)

    async def health(self, request: Request) -> Response:
        """Which deployments answer ``/ready``; always 200 while the router itself runs."""
        routes = self._routes()

        async def ready(url: str) -> bool:
            try:
                answer = await self.forwarder.request(
                    "GET", url, "/ready", timeout_s=HEALTH_TIMEOUT_S
                )
            except ForwardError:
                return False
            return answer.status == 200

        names = sorted(routes.deployments)
        results = await asyncio.gather(*(ready(routes.deployments[n]) for n in names))
        deployments: dict[str, Any] = {
            name: {
                "healthy": ok,
                "traffic": routes.traffic.get(name, 0),
                "mirror_traffic": routes.mirror_traffic.get(name, 0),
            }
            for name, ok in zip(names, results, strict=True)
        }
        live = [n for n in names if routes.traffic.get(n, 0) > 0]
        status = "healthy" if all(deployments[n]["healthy"] for n in live) else "degraded"
        return JSONResponse(
            {"endpoint": routes.endpoint, "status": status, "deployments": deployments}
        )


def _detail(answer: Answer) -> str:
    try:
        return str(json.loads(answer.body).get("message", answer.text))[:500]
    except (ValueError, AttributeError):
        return answer.text[:500]


def create_app(routes_path: Path, rng: random.Random | None = None) -> Starlette:
    """The router's ASGI app; a missing or invalid routes file fails here, at start."""
    router = Router(RoutesFile(routes_path), rng)
    return Starlette(
        routes=[
            Route("/score", router.score, methods=["POST"]),
            Route("/health", router.health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=router.lifespan,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlstack.serving.router")
    parser.add_argument("--routes", type=Path, required=True, help="the routing table (JSON)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write {pid, port} here once listening")
    args = parser.parse_args(argv)
    try:
        app = create_app(args.routes)
    except (OSError, ValueError) as error:
        print(f"cannot start the router: {error}", file=sys.stderr)
        return 2
    return serve(app, host=args.host, port=args.port, port_file=args.port_file)


if __name__ == "__main__":
    sys.exit(main())
