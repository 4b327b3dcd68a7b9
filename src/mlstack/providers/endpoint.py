"""The ``LocalEndpoint`` dynamic resource: an online endpoint served by local processes.

One router per endpoint (a fixed loopback port, the endpoint's keys) in front of one
server per deployment, supervised under ``<home>/stacks/<stack>/endpoints/<name>/``.
``update`` rolls a changed deployment without dropping a request: the new server starts
and answers ``/ready``, the routes file is rewritten (the router reloads it), and only then
is the old server stopped. A server that does not start fails the update before the routes
change: the servers it started are stopped and traffic stays where it was (a rollback
that cannot start leaves the current model serving). Keys are generated once and kept as
Pulumi secrets.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from mlstack.config.locator import LocalLocator, locator_of
from mlstack.config.resources import DeploymentInputs, EndpointInputs
from mlstack.content.download import download
from mlstack.errors import WorkspaceError
from mlstack.project import Project
from mlstack.serving.keys import EndpointKeys
from mlstack.serving.process import (
    ServerProcess,
    is_alive,
    is_our_server,
    model_dir_of,
    read_pid,
    start_deployment,
    start_router,
    stop,
)
from mlstack.serving.routes import Routes
from mlstack.workspace import Workspace, open_workspace
from mlstack.workspace.asset import upload_prefix

ROLL_KEYS = DeploymentInputs.roll_keys
SECRETS = ["primary_key", "secondary_key"]


def endpoint_folder(home: Path, stack: str, name: str) -> Path:
    return home / "stacks" / stack / "endpoints" / name


def observed_health(home: Path, stack: str, name: str) -> str:
    """``running`` if the router and every deployment recorded for the endpoint are alive.

    The program passes this as an input, so a preview notices an endpoint whose processes
    died (after a reboot, say) and the next ``up`` restarts them.
    """
    folder = endpoint_folder(home, stack, name)
    pids = [read_pid(f) for f in folder.glob("*.pid")] if folder.is_dir() else []
    alive = bool(pids) and all(p is not None and is_our_server(p) for p in pids)
    return "running" if alive else "down"


def _serving_model(pid: int) -> str | None:
    """The model digest (hex) a deployment process was started with, from its command line."""
    model_dir = model_dir_of(pid)
    return None if model_dir is None else model_dir.name


def _router_port(stack: str, name: str) -> int:
    """A stable port per endpoint, so its URL survives restarts; any free one if taken."""
    seed = int(hashlib.sha256(f"{stack}/{name}".encode()).hexdigest(), 16)
    for port in (20000 + seed % 10000, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free loopback port for the endpoint router")


def _stack(props: dict[str, Any]) -> str:
    locator = locator_of(props)
    if not isinstance(locator, LocalLocator):
        raise WorkspaceError("a local endpoint belongs to a local workspace: check its inputs")
    return locator.stack


def _folder(props: dict[str, Any]) -> Path:
    """The endpoint's process folder, under the home this machine has today."""
    return endpoint_folder(Project.find().home, _stack(props), props["name"])


def _model_dir(ws: Workspace, home: Path, name: str, digest: str) -> Path:
    """The registered model's files, downloaded once per digest and verified."""
    found = next((v for v in ws.models.list(name) if v.digest == digest), None)
    if found is None:
        raise FileNotFoundError(f"model {name} with digest {digest} is not registered")
    hexd = digest.split(":", 1)[1]
    dest = home / "cache" / "models" / hexd
    marker = dest.parent / f".{hexd}.complete"
    if not marker.is_file():
        manifest = ws.models.manifest(name, found.version)
        prefix = upload_prefix(digest, name)
        download(ws.endpoint, ws.container, prefix, manifest, dest, progress=False)
        marker.write_text(manifest.to_json())
    return dest


def _start(
    props: dict[str, Any], dep: str, spec: dict[str, Any], generation: int
) -> dict[str, Any]:
    home = Project.find().home
    folder = _folder(props)
    ws = open_workspace(locator_of(props))
    model_dir = _model_dir(ws, home, spec["model"], spec["model_digest"])
    server = start_deployment(
        folder, f"{dep}-{generation}", code=Path(spec["code"]),
        scoring_script=spec["scoring_script"], model_dir=model_dir,
        env=dict(spec.get("environment_variables") or {}),
    )  # fmt: skip
    return {**{k: spec.get(k) for k in ROLL_KEYS}, "pid": server.pid, "port": server.port,
            "generation": generation, "url": server.url}  # fmt: skip


def _discard(folder: Path, dep: str, generation: int, pid: int | None) -> None:
    """Stop one deployment server (if ``pid``) and remove its pid and port files: a stale
    pid file would read as "down". Its log stays, for whoever looks into a failure."""
    if pid:
        stop(pid)
    for ext in (".pid", ".port"):
        (folder / f"{dep}-{generation}{ext}").unlink(missing_ok=True)


def _start_changed(
    props: dict[str, Any], folder: Path, old_running: dict[str, Any]
) -> dict[str, Any]:
    """Every deployment's server: the old one where nothing it serves changed, a new one
    (answering ``/ready``) elsewhere. If any fails to start, those started here are
    stopped again and the error is raised: the routes have not changed yet."""
    running: dict[str, Any] = {}
    started: list[tuple[str, int]] = []
    try:
        for dep, spec in props["deployments"].items():
            old = old_running.get(dep)
            same = old and all(old.get(k) == spec.get(k) for k in ROLL_KEYS)
            if old and same and is_alive(int(old["pid"])):
                running[dep] = old
                continue
            # The engine returns numbers as doubles: the generation 1 comes back as 1.0.
            generation = int(old["generation"]) + 1 if old else 1
            started.append((dep, generation))
            running[dep] = _start(props, dep, spec, generation)
    except BaseException:
        for dep, generation in started:
            _discard(folder, dep, generation, running.get(dep, {}).get("pid"))
        raise
    return running


def _routes(props: dict[str, Any], keys: tuple[str, str], running: dict[str, Any]) -> Routes:
    return Routes(
        endpoint=props["name"], keys_sha256=keys,
        deployments={dep: state["url"] for dep, state in running.items()},
        traffic={k: int(v) for k, v in props["traffic"].items()},
        mirror_traffic={k: int(v) for k, v in (props.get("mirror_traffic") or {}).items()},
    )  # fmt: skip


def _router(props: dict[str, Any], port: int, routes: Path) -> ServerProcess:
    return start_router(_folder(props), "router", routes=routes, port=port)


class LocalEndpointProvider(ResourceProvider):
    """CRUD for one local online endpoint and its deployments."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({**news, "mirror_traffic": news.get("mirror_traffic") or {}}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        old, new = EndpointInputs.parse(olds), EndpointInputs.parse(news)
        replaces = new.replaces(old)

        def rolls(inputs: EndpointInputs) -> dict[str, tuple[Any, ...]]:
            return {name: tuple(getattr(dep, k) for k in ROLL_KEYS)
                    for name, dep in inputs.deployments.items()}  # fmt: skip

        keys = ("traffic", "mirror_traffic", "health")
        changed = rolls(old) != rolls(new) or any(getattr(old, k) != getattr(new, k) for k in keys)
        # The program observed processes that are down: restart them even when a refresh
        # already recorded "down" in the state (same on both sides, yet not what is declared).
        changed = changed or new.health != "running"
        return DiffResult(changes=bool(replaces) or changed, replaces=replaces,
                          delete_before_replace=True)  # fmt: skip

    def _outputs(self, props: dict[str, Any], keys: EndpointKeys, port: int,
                 router_pid: int, running: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        inputs = {k: v for k, v in props.items() if k != "__provider"}
        return {**inputs, "health": "running", "port": port, "router_pid": router_pid,
                "scoring_uri": f"http://127.0.0.1:{port}/score", "running": running,
                "primary_key": keys.primary, "secondary_key": keys.secondary}  # fmt: skip

    def create(self, props: dict[str, Any]) -> CreateResult:
        folder = _folder(props)
        shutil.rmtree(folder, ignore_errors=True)  # leftovers of a crashed create
        folder.mkdir(parents=True)
        keys = EndpointKeys.generate()
        running = {dep: _start(props, dep, spec, 1) for dep, spec in props["deployments"].items()}
        routes = folder / "routes.json"
        _routes(props, keys.digests(), running).write(routes)
        stack = _stack(props)
        router = _router(props, _router_port(stack, props["name"]), routes)
        outs = self._outputs(props, keys, router.port, router.pid, running)
        return CreateResult(f"{stack}/endpoint/{props['name']}", outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Start what changed, move traffic, then stop what was replaced: no request lost."""
        keys = EndpointKeys(olds["primary_key"], olds["secondary_key"])
        folder = _folder(news)
        folder.mkdir(parents=True, exist_ok=True)
        old_running: dict[str, Any] = dict(olds.get("running") or {})
        running = _start_changed(news, folder, old_running)
        routes = folder / "routes.json"
        _routes(news, keys.digests(), running).write(routes)  # the router reloads this
        port, router_pid = int(olds["port"]), int(olds.get("router_pid") or 0)
        if not (router_pid and is_alive(router_pid)):
            router_pid = _router(news, port, routes).pid
        for dep, old in old_running.items():
            if running.get(dep, {}).get("pid") != old["pid"]:
                _discard(folder, dep, int(old["generation"]), int(old["pid"]))
        return UpdateResult(self._outputs(news, keys, port, router_pid, running))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Report drift: a process gone, or a deployment serving another model."""
        running = dict(props.get("running") or {})
        alive = is_alive(int(props.get("router_pid") or 0)) and all(
            is_alive(int(state["pid"])) for state in running.values()
        )
        right_model = all(
            _serving_model(int(state["pid"])) == str(state.get("model_digest", "")).split(":")[-1]
            for state in running.values()
        )
        health = "running" if alive and right_model else "down" if not alive else "wrong-model"
        outs = {**props, "health": health}
        hidden = ("running", "port", "router_pid", "scoring_uri", *SECRETS)
        inputs = {k: v for k, v in outs.items() if k not in hidden}
        return ReadResult(id_, outs, inputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        for state in dict(props.get("running") or {}).values():
            stop(int(state["pid"]))
        if props.get("router_pid"):
            stop(int(props["router_pid"]))
        shutil.rmtree(_folder(props), ignore_errors=True)


class LocalEndpoint(Resource, module="mlstack", name="LocalEndpoint"):
    """An online endpoint on loopback: keys, traffic split, zero-downtime rollouts."""

    scoring_uri: pulumi.Output[str]
    port: pulumi.Output[int]
    primary_key: pulumi.Output[str]
    secondary_key: pulumi.Output[str]
    traffic: pulumi.Output[dict[str, int]]

    def __init__(
        self,
        resource_name: str,
        inputs: EndpointInputs,
        model_versions: dict[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``model_versions``: per deployment, the version it serves (which the engine
        resolves before this endpoint is updated)."""
        props = inputs.to_props()
        for dep, version in model_versions.items():
            props["deployments"][dep]["model_version"] = version
        outputs = dict.fromkeys(("scoring_uri", "port", "router_pid", "running", *SECRETS))
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=SECRETS)
        )
        super().__init__(LocalEndpointProvider(), resource_name, {**props, **outputs}, opts)
