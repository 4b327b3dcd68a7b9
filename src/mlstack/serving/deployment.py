"""A deployment server: one Azure ML entry script behind ``POST /score``.

One process per deployment, as on Azure ML where each deployment is its own container.
The entry script is imported by path, ``AZUREML_MODEL_DIR`` is set to the model folder,
``init()`` runs once before the server accepts requests, and every request body is
handed to ``run(raw_data)`` in a worker thread so the event loop stays free.

    POST /score   200 with run()'s result as JSON
                  400 when run() raises ValueError (the message is meant for the caller),
                      or when the body is not UTF-8 / not JSON, or nests deeper than
                      64 levels (refused before run(): see ``payload``)
                  500 when run() fails otherwise (a bug in the script)
    GET  /health  200 while the process lives
    GET  /ready   200 once init() has returned, 503 before

Run it as ``python -m mlstack.serving.deployment --code DIR --scoring-script score.py
--model-dir DIR --port P --name blue``; ``--port 0`` takes a free port, which is printed
and, with ``--port-file``, recorded as JSON ``{"pid", "port"}``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlstack.serving.payload import too_deep, too_deep_message
from mlstack.serving.server import serve

log = logging.getLogger("mlstack.serving.deployment")


@dataclass(frozen=True)
class EntryScript:
    """Where a deployment's code is: ``code/scoring_script``, run against ``model_dir``."""

    code: Path
    scoring_script: str
    model_dir: Path


def load_entry_script(script: EntryScript) -> ModuleType:
    """Import the entry script by path, with its folder on ``sys.path`` as Azure ML does."""
    path = script.code / script.scoring_script
    if not path.is_file():
        raise FileNotFoundError(f"no scoring script at {path}: check --code and --scoring-script")
    code = str(script.code.resolve())
    if code not in sys.path:
        sys.path.insert(0, code)  # lets the script import its sibling modules
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            raise AttributeError(f"{path} must define {name}() (Azure ML's entry-script contract)")
    return module


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail))


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


async def _score(run: Callable[[str], Any], body: bytes, name: str) -> Response:
    """``run(body)`` in a worker thread, its outcome as an HTTP answer."""
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError:
        return _error(400, "the request body must be UTF-8 encoded JSON")
    if too_deep(body):
        return _error(400, too_deep_message())
    try:
        result = await run_in_threadpool(run, raw)
        return Response(json.dumps(result), media_type="application/json")
    except ValueError as error:  # the script's way of saying "bad request"
        return _error(400, str(error) or "the request was rejected by the scoring script")
    except Exception as error:
        if not _is_json(raw):
            return _error(400, "the request body is not valid JSON")
        log.exception("run() failed in deployment %s", name)
        return _error(500, f"the scoring script failed: {type(error).__name__}: {error}")


def create_app(script: EntryScript, name: str) -> Starlette:
    """The ASGI app for one deployment; ``init()`` runs in its lifespan startup."""
    state: dict[str, Any] = {"ready": False}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        os.environ["AZUREML_MODEL_DIR"] = str(script.model_dir.resolve())
        module = load_entry_script(script)
        await run_in_threadpool(module.init)
        state["run"] = module.run
        state["ready"] = True
        log.info("deployment %s ready: %s", name, script.code / script.scoring_script)
        yield

    async def score(request: Request) -> Response:
        # uvicorn listens only after the lifespan startup, so init() has run by now.
        return await _score(state["run"], await request.body(), name)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "alive", "deployment": name})

    async def ready(request: Request) -> Response:
        if state["ready"]:
            return JSONResponse({"status": "ready", "deployment": name})
        return _error(503, f"deployment {name} is still starting")

    return Starlette(
        routes=[
            Route("/score", score, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlstack.serving.deployment")
    parser.add_argument("--code", type=Path, required=True, help="folder with the entry script")
    parser.add_argument("--scoring-script", required=True, help="file name inside --code")
    parser.add_argument("--model-dir", type=Path, required=True, help="AZUREML_MODEL_DIR")
    parser.add_argument("--name", required=True, help="the deployment's name, e.g. blue")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write {pid, port} here once listening")
    args = parser.parse_args(argv)
    script = EntryScript(args.code, args.scoring_script, args.model_dir)
    app = create_app(script, args.name)
    return serve(app, host=args.host, port=args.port, port_file=args.port_file)


if __name__ == "__main__":
    sys.exit(main())
