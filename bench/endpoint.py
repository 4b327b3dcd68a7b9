"""Endpoint benchmark: our router + deployment against a bare ASGI app, and a rollout.

Every target serves the same model through the same ``training/score.py``, under the same
uvicorn settings (``mlstack.serving.server.serve``), on loopback, in this run::

    .venv/bin/python bench/endpoint.py                    # 10 s per target, 8 clients
    .venv/bin/python bench/endpoint.py --seconds 3 --clients 4   # a quick look

- **ours**: client → router (keys, traffic split) → deployment server (Starlette).
- **anchor**: client → a raw ASGI callable defined below (no framework, no router) that
  runs ``init()``/``run()`` in a thread pool the size of Starlette's (anyio's 40 tokens).
- **deployment alone**: client → our deployment server, no router; it splits our
  overhead into the framework's share and the router hop's share.

Then a blue→green rollout under load through the router: start green, 50/50, 100% green,
stop blue — every failed request is counted. Prints a table and writes
``bench/results/endpoint.json``. Every load loop stops at a deadline and at a request
cap; every process started here is stopped by pid on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``mlstack`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._common import REPO, RESULTS, Row, report, scratch
from mlstack.services.azurite import free_port
from mlstack.serving import (
    EndpointKeys,
    Routes,
    ServerProcess,
    start_deployment,
    start_router,
    stop,
)
from mlstack.serving.deployment import EntryScript, load_entry_script
from mlstack.serving.server import serve

HOST = "127.0.0.1"
CODE = REPO / "training"
SCRIPT = "score.py"
TRAINED = REPO / "outputs" / "digits-cnn"
REQUEST = REPO / "assets" / "endpoints" / "sample-request.json"
DEPLOYMENT_HEADER = "azureml-model-deployment"
ANYIO_TOKENS = 40  # Starlette's run_in_threadpool default: the anchor gets the same pool
MAX_REQUESTS = 200_000  # per load loop, whatever the deadline
ROLLOUT_MAX_S = 300.0  # the rollout's load stops here even if a step hangs
OVERHEAD_TARGET = 1.3


# --- the anchor: score.py behind a bare ASGI callable ---------------------------------


class BareApp:
    """``POST`` anything → ``run(body)`` in a thread; ``init()`` in the lifespan startup."""

    def __init__(self, code: Path, script: str, model_dir: Path) -> None:
        self.code, self.script, self.model_dir = code, script, model_dir
        self.pool = ThreadPoolExecutor(ANYIO_TOKENS)
        self.run: Any = None

    def _init(self) -> None:
        os.environ["AZUREML_MODEL_DIR"] = str(self.model_dir)
        module = load_entry_script(EntryScript(self.code, self.script, self.model_dir))
        module.init()
        self.run = module.run

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        loop = asyncio.get_running_loop()
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await loop.run_in_executor(self.pool, self._init)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.pool.shutdown(wait=False)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body, more = bytearray(), True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, payload = 200, b'{"status":"ready"}'
        if scope["method"] == "POST":
            try:
                result = await loop.run_in_executor(self.pool, self.run, body.decode())
                payload = json.dumps(result).encode()
            except Exception as error:  # the anchor only needs a 4xx
                status, payload = 400, json.dumps({"message": str(error)}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(payload)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def serve_anchor(model_dir: Path, port_file: Path) -> int:
    return serve(BareApp(CODE, SCRIPT, model_dir), host=HOST, port=0, port_file=port_file)


@dataclass
class Anchor:
    process: subprocess.Popen[bytes]
    url: str


def start_anchor(folder: Path, model_dir: Path, timeout_s: float = 180.0) -> Anchor:
    """Run ``serve_anchor`` in a child process of its own and wait for ``GET /ready``."""
    port_file, log = folder / "anchor.port", folder / "anchor.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-anchor", str(model_dir),
               "--port-file", str(port_file)]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                url = f"http://{HOST}:{json.loads(port_file.read_text())['port']}"
                if client.get(url + "/ready").status_code == 200:
                    return Anchor(process, url)
            except (OSError, ValueError, KeyError, httpx.HTTPError):
                pass
            time.sleep(0.05)
    stop_anchor(process)
    raise RuntimeError(f"the anchor did not start; the end of {log}:\n{log.read_text()[-2000:]}")


def stop_anchor(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# --- load ------------------------------------------------------------------------------


@dataclass
class Load:
    """What one bounded load loop saw."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    served_by: Counter[str] = field(default_factory=Counter)
    error_times_s: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "ok": len(self.latencies_ms), "errors": dict(self.errors),
            "served_by": dict(self.served_by), "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 1), "p50_ms": round(self.pct(0.5), 2),
            "p90_ms": round(self.pct(0.9), 2), "p99_ms": round(self.pct(0.99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else None,
            "error_times_s": [round(t, 2) for t in self.error_times_s[:50]],
        }  # fmt: skip


async def _load(
    *,
    url: str, body: bytes, headers: dict[str, str], clients: int, seconds: float,
    max_requests: int, halt: threading.Event | None,
) -> Load:  # fmt: skip
    result, sent = Load(), 0
    start = time.monotonic()
    deadline = start + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=30.0) as client:

        async def one_client() -> None:
            nonlocal sent
            while time.monotonic() < deadline and sent < max_requests:
                if halt is not None and halt.is_set():
                    return
                sent += 1
                began = time.perf_counter()
                try:
                    answer = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError as error:
                    result.errors[type(error).__name__] += 1
                    result.error_times_s.append(time.monotonic() - start)
                    continue
                if answer.status_code != 200:
                    result.errors[f"HTTP {answer.status_code}"] += 1
                    result.error_times_s.append(time.monotonic() - start)
                    continue
                result.latencies_ms.append((time.perf_counter() - began) * 1000)
                result.served_by[answer.headers.get(DEPLOYMENT_HEADER, "-")] += 1

        await asyncio.gather(*(one_client() for _ in range(clients)))
    result.seconds = time.monotonic() - start
    return result


def load(
    url: str, body: bytes, headers: dict[str, str], *, clients: int, seconds: float,
    max_requests: int = MAX_REQUESTS, halt: threading.Event | None = None,
) -> Load:  # fmt: skip
    """``clients`` closed-loop clients posting ``body`` until ``seconds`` or the cap."""
    return asyncio.run(
        _load(url=url, body=body, headers=headers, clients=clients, seconds=seconds,
              max_requests=max_requests, halt=halt)
    )  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (0 for this process: see ``measure``)."""
    if pid == os.getpid():
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    *,
    label: str, url: str, body: bytes, headers: dict[str, str], args: argparse.Namespace,
    pids: dict[str, int], cpu: dict[str, dict[str, float]],
) -> dict[str, Load]:  # fmt: skip
    """Warm up, then ``--clients`` clients for ``--seconds``, then one client (hop latency).

    ``cpu[label]`` gets the CPU milliseconds each process in ``pids`` spent per answered
    request during the measured run: on a machine with few cores that, not the wire, is
    what sets the throughput.
    """
    load(url, body, headers, clients=args.clients, seconds=args.warmup)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    loaded = load(url, body, headers, clients=args.clients, seconds=args.seconds)
    cpu[label] = {
        name: round((cpu_seconds(pid) - before[name]) * 1000 / max(1, len(loaded.latencies_ms)), 3)
        for name, pid in pids.items()
    }
    single = load(url, body, headers, clients=1, seconds=args.probe_seconds)
    say(f"{label}: {loaded.rps:.1f} req/s, p50 {loaded.pct(0.5):.1f} ms, "
        f"p99 {loaded.pct(0.99):.1f} ms, errors {sum(loaded.errors.values())}; "
        f"1 client p50 {single.pct(0.5):.1f} ms; CPU ms/request {cpu[label]}")  # fmt: skip
    return {"loaded": loaded, "single": single}


# --- the run ---------------------------------------------------------------------------


def model_folder(home: Path) -> tuple[Path, str]:
    """The trained digits CNN when there is one, else a linear model exported like it."""
    if (TRAINED / "model.pt2").is_file():
        return TRAINED, "outputs/digits-cnn (trained CNN)"
    import torch  # noqa: PLC0415 - only without a trained model; slow to import

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
    batch = torch.export.Dim("batch", min=1, max=10_000)
    program = torch.export.export(model, (torch.zeros(2, 1, 28, 28),), dynamic_shapes=({0: batch},))
    folder = home / "model"
    folder.mkdir()
    torch.export.save(program, folder / "model.pt2")
    return folder, "linear 784→10 (no trained model found)"


def rollout(
    *,
    home: Path, router_url: str, routes: Path, blue: ServerProcess, model_dir: Path,
    keys: EndpointKeys, body: bytes, headers: dict[str, str],
    args: argparse.Namespace, stopping: list[int],
) -> tuple[Load, list[tuple[float, str]]]:  # fmt: skip
    """Blue→green under load, in the order the provider's ``update`` uses."""
    stop_load, box = threading.Event(), {}

    def run_load() -> None:
        box["load"] = load(router_url + "/score", body, headers, clients=args.clients,
                           seconds=ROLLOUT_MAX_S, halt=stop_load)  # fmt: skip

    events: list[tuple[float, str]] = []
    begin = time.monotonic()

    def mark(what: str) -> None:
        events.append((round(time.monotonic() - begin, 2), what))
        say(f"  rollout +{events[-1][0]:.1f}s {what}")

    worker = threading.Thread(target=run_load, name="rollout-load")
    worker.start()
    try:
        mark("load running, blue 100%")
        time.sleep(args.hold)
        green = start_deployment(home, "green", code=CODE, scoring_script=SCRIPT,
                                 model_dir=model_dir, timeout_s=180)  # fmt: skip
        stopping.append(green.pid)
        mark("green ready")
        deployments = {"blue": blue.url, "green": green.url}
        Routes("digits", keys.digests(), deployments, {"blue": 50, "green": 50}).write(routes)
        mark("traffic blue 50 / green 50")
        time.sleep(args.hold)
        Routes("digits", keys.digests(), {"green": green.url}, {"green": 100}).write(routes)
        mark("traffic green 100 (blue out of the table)")
        time.sleep(args.hold)
        stop(blue.pid)
        mark("blue stopped")
        time.sleep(args.hold)
        mark("load stopped")
    finally:
        stop_load.set()
        worker.join(ROLLOUT_MAX_S + 30)
    return box["load"], events


def run(args: argparse.Namespace, home: Path, rows: list[Row], extra: dict[str, Any]) -> None:
    model_dir, model_label = model_folder(home)
    body = REQUEST.read_bytes()
    extra.update(model=model_label, request=str(REQUEST.relative_to(REPO)),
                 request_bytes=len(body), images=len(json.loads(body)["data"]),
                 clients=args.clients, seconds=args.seconds, warmup_s=args.warmup,
                 probe_seconds=args.probe_seconds)  # fmt: skip
    json_type = {"content-type": "application/json"}
    started: list[int] = []  # our servers' pids, stopped in the finally
    anchor: Anchor | None = None
    try:
        keys = EndpointKeys.generate()
        blue = start_deployment(home, "blue", code=CODE, scoring_script=SCRIPT,
                                model_dir=model_dir, timeout_s=180)  # fmt: skip
        started.append(blue.pid)
        routes = home / "routes.json"
        Routes("digits", keys.digests(), {"blue": blue.url}, {"blue": 100}).write(routes)
        router = start_router(home, "router", routes=routes, port=free_port())
        started.append(router.pid)
        anchor = start_anchor(home, model_dir)
        auth = {**json_type, "Authorization": f"Bearer {keys.primary}"}
        say(f"model: {model_label}; {args.clients} clients, {args.seconds:g} s per target")

        me, cpu = os.getpid(), extra.setdefault("cpu_ms_per_request", {})
        common = {"body": body, "args": args, "cpu": cpu}
        bare = measure(label="anchor", url=anchor.url + "/score", headers=json_type,
                       pids={"client": me, "anchor": anchor.process.pid}, **common)  # fmt: skip
        ours = measure(label="ours", url=router.url + "/score", headers=auth,
                       pids={"client": me, "router": router.pid, "deployment": blue.pid},
                       **common)  # fmt: skip
        alone = measure(label="deployment", url=blue.url + "/score", headers=json_type,
                        pids={"client": me, "deployment": blue.pid}, **common)  # fmt: skip
        stop_anchor(anchor.process)  # its CPU must not count against the rollout
        targets = {"anchor": bare, "ours": ours, "deployment": alone}
        extra["loads"] = {
            name: {k: v.summary() for k, v in m.items()} for name, m in targets.items()
        }

        say("rollout blue → green under load")
        rolled, events = rollout(home=home, router_url=router.url, routes=routes, blue=blue,
                                 model_dir=model_dir, keys=keys, body=body, headers=auth,
                                 args=args, stopping=started)  # fmt: skip
        extra["rollout"] = {"events": events, **rolled.summary()}
    finally:
        if anchor is not None:
            stop_anchor(anchor.process)
        for pid in reversed(started):
            stop(pid)

    n = args.clients
    a, o, d = bare["loaded"], ours["loaded"], alone["loaded"]
    overhead = o.pct(0.5) / a.pct(0.5)
    rows += [
        Row(f"throughput, {n} clients", o.rps, "req/s", "bare ASGI", a.rps, o.rps / a.rps,
            f"≥ {1 / OVERHEAD_TARGET:.2f}x", o.rps / a.rps >= 1 / OVERHEAD_TARGET,
            "ratio = ours ÷ anchor"),
        Row(f"p50 latency, {n} clients", o.pct(0.5), "ms", "bare ASGI", a.pct(0.5), overhead,
            f"≤ {OVERHEAD_TARGET}x", overhead <= OVERHEAD_TARGET,
            "the overhead ratio: ours p50 ÷ anchor p50"),
        Row(f"p99 latency, {n} clients", o.pct(0.99), "ms", "bare ASGI", a.pct(0.99),
            o.pct(0.99) / a.pct(0.99)),
        Row("errors under load", sum(o.errors.values()), "", "bare ASGI",
            sum(a.errors.values()), None, "0", not o.errors),
        Row("p50 latency, 1 client", ours["single"].pct(0.5), "ms", "bare ASGI",
            bare["single"].pct(0.5), ours["single"].pct(0.5) / bare["single"].pct(0.5),
            note="no queueing: the per-request cost of the extra hop and the framework"),
        Row("server CPU per request", sum(v for k, v in cpu["ours"].items() if k != "client"),
            "ms", "bare ASGI", cpu["anchor"]["anchor"],
            sum(v for k, v in cpu["ours"].items() if k != "client") / cpu["anchor"]["anchor"],
            note="router + deployment vs the anchor process; per process: "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in cpu["ours"].items())),
        Row(f"deployment alone p50, {n} clients", d.pct(0.5), "ms", "bare ASGI", a.pct(0.5),
            d.pct(0.5) / a.pct(0.5), note="no router: Starlette deployment vs raw ASGI"),
        Row(f"deployment alone throughput, {n} clients", d.rps, "req/s", "bare ASGI", a.rps,
            d.rps / a.rps),
        Row("errors during blue→green rollout", sum(rolled.errors.values()), "", target="0",
            met=not rolled.errors, note=f"{rolled.requests} requests over {rolled.seconds:.1f} s"
            + (f"; {dict(rolled.errors)}" if rolled.errors else "")),
        Row("rollout: answered by blue", rolled.served_by["blue"], "requests"),
        Row("rollout: answered by green", rolled.served_by["green"], "requests"),
    ]  # fmt: skip


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured load per target")
    parser.add_argument("--clients", type=int, default=8, help="concurrent closed-loop clients")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured load first")
    parser.add_argument("--probe-seconds", type=float, default=3.0, help="1-client latency run")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds between rollout steps")
    parser.add_argument("--json", type=Path, default=RESULTS / "endpoint.json")
    parser.add_argument("--serve-anchor", type=Path, help=argparse.SUPPRESS)  # the child
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_anchor is not None:
        return serve_anchor(args.serve_anchor, args.port_file)

    rows: list[Row] = []
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    with scratch("endpoint") as home:
        run(args, home, rows, extra)
    wall = time.perf_counter() - started
    report("endpoint", rows, extra, wall, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
