"""Drift: where a stack's workspace and endpoints no longer hold what its state says.

Three sources, read alike on both targets:

- the **state** (:meth:`mlstack.stack.Stack.resources`, secrets left encrypted): each asset
  resource's current version and digest, whether it last saw it archived, and every
  version it registered; each endpoint's declared traffic split;
- the **workspace**, through the workspace protocol: every version of every data, model
  and environment asset, archived ones included;
- the **live endpoints** (:class:`LiveEndpoints`): the table a local endpoint's router
  follows, or the Azure ML online endpoint read with the workspace's ``MLClient``.

:func:`find_drift` compares them, on plain values, and says for each finding what to do.
Its rules:

- an **orphan** is a live version that no resource of the stack registered (a pipeline's,
  a notebook's, a colleague's). Versions a resource registered earlier, promoted ones
  included, belong to the stack. Archived versions are never orphans: archiving is what
  removing a declaration and ``pulumi destroy`` do, and what the report would ask for.
- the state is checked against the workspace for each resource's **current** version,
  the one it declares and serves: gone, archived outside mlstack, or holding other
  content. Earlier versions are history the stack keeps but no longer serves.
- traffic splits are compared without zero weights (Azure ML lists every deployment,
  those without traffic at 0); mirror traffic where the state declares it (local).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from pydantic import ValidationError

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.config.resources import RESOURCE_TYPES, AssetInputs, EndpointInputs
from mlstack.errors import StackError
from mlstack.stack import Stack, StateResource
from mlstack.workspace.asset import AssetVersion
from mlstack.workspace.protocol import ServiceWorkspace, Workspace

__all__ = [
    "DriftReport",
    "Finding",
    "Fixes",
    "LiveEndpoints",
    "RouterTables",
    "ServiceEndpoints",
    "StackState",
    "StateAsset",
    "StateEndpoint",
    "Traffic",
    "drift_report",
    "find_drift",
]

KINDS = ("data", "model", "environment", "component")
FOLDERS = {
    "data": "assets/data", "model": "assets/models", "environment": "assets/environments",
    "component": "assets/components",
}  # fmt: skip
NOUNS = {
    "data": "data",
    "model": "model",
    "environment": "env",
    "component": "component",
}  # `mlstack <noun> …`
FindingKind = Literal["orphan", "missing", "archived", "content", "traffic", "not-serving"]


def _short(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else digest


# -- what the state says --------------------------------------------------------------------


@dataclass(frozen=True)
class StateAsset:
    """An asset resource as the state records it."""

    kind: str
    name: str
    urn: str
    version: str
    digest: str
    archived: bool = False
    """Whether the resource saw its version archived at its last refresh."""
    registered: tuple[str, ...] = ()
    """Every version this resource registered, the current one included."""

    @property
    def resource(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class Traffic:
    """A traffic split, percent per deployment; ``mirror`` None means "not compared"."""

    split: Mapping[str, int]
    mirror: Mapping[str, int] | None = None

    @classmethod
    def of(cls, split: Mapping[str, Any], mirror: Mapping[str, Any] | None = None) -> Traffic:
        """Weights as integers (the engine hands back doubles), zero weights left out."""

        def clean(weights: Mapping[str, Any]) -> dict[str, int]:
            return {str(k): int(v) for k, v in sorted(weights.items()) if int(v)}

        return cls(clean(split), None if mirror is None else clean(mirror))

    def differs_from(self, live: Traffic) -> bool:
        if dict(self.split) != dict(live.split):
            return True
        return self.mirror is not None and dict(self.mirror) != dict(live.mirror or {})

    def __str__(self) -> str:
        text = " · ".join(f"{k} {v}%" for k, v in self.split.items()) or "no traffic"
        if self.mirror:
            text += " (mirror " + " · ".join(f"{k} {v}%" for k, v in self.mirror.items()) + ")"
        return text


@dataclass(frozen=True)
class StateEndpoint:
    """An endpoint's declared traffic, from its local endpoint or Azure traffic resource."""

    name: str
    urn: str
    traffic: Traffic


def _asset(stack: str, resource: StateResource) -> StateAsset | None:
    model = RESOURCE_TYPES.get(resource.dynamic_type)
    if model is None or not issubclass(model, AssetInputs):
        return None
    outputs = resource.outputs
    try:
        inputs = model.parse(outputs)
    except ValidationError as error:
        raise StackError(
            stack, f"the state of {resource.urn} cannot be read ({error.errors()[0]['msg']}): "
            f"run `pulumi refresh -s {stack}` and `pulumi up -s {stack}`",
        ) from None  # fmt: skip
    version = str(outputs.get("version") or "")
    registered = tuple(str(v) for v in outputs.get("registered") or ())
    return StateAsset(model.kind, inputs.name, resource.urn, version, inputs.digest,
                      bool(outputs.get("archived")), registered)  # fmt: skip


def _endpoint(resource: StateResource) -> StateEndpoint | None:
    outputs = resource.outputs
    if resource.dynamic_type == EndpointInputs.resource_type:  # local: LocalEndpoint
        inputs = EndpointInputs.parse(outputs)
        return StateEndpoint(inputs.name, resource.urn,
                             Traffic.of(inputs.traffic, inputs.mirror_traffic))  # fmt: skip
    # azure: the unnamed dynamic resource that sets an endpoint's split (EndpointTraffic)
    if resource.dynamic_type == "Resource" and {"endpoint", "traffic"} <= outputs.keys():
        return StateEndpoint(str(outputs["endpoint"]), resource.urn, Traffic.of(outputs["traffic"]))
    return None


@dataclass(frozen=True)
class StackState:
    """What drift compares from a stack's state: its asset resources and endpoints."""

    assets: tuple[StateAsset, ...] = ()
    endpoints: tuple[StateEndpoint, ...] = ()

    @classmethod
    def of(cls, stack: str, resources: Iterable[StateResource]) -> StackState:
        listed = tuple(resources)
        assets = (_asset(stack, r) for r in listed)
        endpoints = (_endpoint(r) for r in listed)
        return cls(tuple(a for a in assets if a), tuple(e for e in endpoints if e))


# -- what the endpoints serve ---------------------------------------------------------------


class LiveEndpoints(Protocol):
    """The traffic each endpoint serves now, on one target."""

    def traffic(self, endpoint: str) -> Traffic | None:
        """The live split; None when the endpoint does not exist or serves nothing."""
        ...


class RouterTables:
    """Local endpoints under ``folder`` (one folder per endpoint): the table a running
    router follows (``routes.json``, which it re-reads whenever the file changes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def traffic(self, endpoint: str) -> Traffic | None:
        from mlstack.serving.process import is_our_server, read_pid  # noqa: PLC0415 - psutil
        from mlstack.serving.routes import Routes  # noqa: PLC0415

        folder = self.folder / endpoint
        pid = read_pid(folder / "router.pid")
        if pid is None or not is_our_server(pid):
            return None
        try:
            routes = Routes.load(folder / "routes.json")
        except (OSError, ValueError):
            return None
        return Traffic.of(routes.traffic, routes.mirror_traffic)


class ServiceEndpoints:
    """Azure ML online endpoints, read with the workspace's ``MLClient``
    (``online_endpoints.get``: the endpoint, then its deployments)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def traffic(self, endpoint: str) -> Traffic | None:
        from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415 - Azure only

        from mlstack.workspace.azure_registry import service_errors  # noqa: PLC0415

        with service_errors(f"reading online endpoint {endpoint}"):
            try:
                found = self.client.online_endpoints.get(endpoint)
            except ResourceNotFoundError:
                return None
        return Traffic.of(found.traffic or {}, found.mirror_traffic or {})


# -- what to do about it --------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One drift: what it is about, what differs, and what to do (one or more ways)."""

    kind: FindingKind
    subject: str
    detail: str
    fixes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "detail": self.detail,
                "fixes": list(self.fixes)}  # fmt: skip


@dataclass(frozen=True)
class Fixes:
    """The commands findings name, for one stack of one target."""

    stack: str
    locator: LocalLocator | AzureLocator
    endpoints: Path
    """Where a local stack's endpoints keep their processes' files, one folder each."""

    @property
    def refresh_up(self) -> str:
        return f"`pulumi refresh -s {self.stack}`, then `pulumi up -s {self.stack}`"

    def replace(self, urn: str) -> str:
        return f"`pulumi up -s {self.stack} --replace '{urn}'`"

    def archive(self, version: AssetVersion) -> str:
        return (f"archive it: `mlstack {NOUNS[version.kind]} archive {version.name}:"
                f"{version.version} -s {self.stack}` (`restore` undoes it)")  # fmt: skip

    def adopt(self, version: AssetVersion, declared: StateAsset | None) -> str:
        where = FOLDERS[version.kind]
        if declared is not None:
            what = f"point the declaration of {declared.resource} in {where}/ at that content"
        else:
            what = f"declare {version.kind} {version.name} in {where}/ with that content"
        return (f"adopt it by digest ({_short(version.digest)}): {what}; the next `pulumi up "
                f"-s {self.stack}` takes version {version.version} as it is (identical content "
                "is never a new version)")  # fmt: skip

    def traffic(self, endpoint: StateEndpoint) -> str:
        if isinstance(self.locator, AzureLocator):
            return (f"{self.replace(endpoint.urn)} sets the declared split again (`pulumi "
                    "refresh` does not read an endpoint's split back)")  # fmt: skip
        pid = self.endpoints / endpoint.name / "router.pid"
        return (f"stop the endpoint's router (`kill $(cat {pid})`), then `pulumi up -s "
                f"{self.stack}` (no `pulumi refresh` in between) starts it again on its port "
                "with the declared split and the same keys (`pulumi refresh` does not read a "
                "router's table back)")  # fmt: skip

    def not_serving(self) -> str:
        if isinstance(self.locator, AzureLocator):
            return f"{self.refresh_up}: refresh drops the endpoint, up creates it again"
        return f"`pulumi up -s {self.stack}` starts it again (a preview sees it down)"


def _check_current(asset: StateAsset, found: AssetVersion | None, fixes: Fixes) -> list[Finding]:
    """The state's current version against the workspace's record of it."""
    if not asset.version:
        return []
    subject = f"{asset.kind} {asset.name}:{asset.version}"
    if found is None:
        detail = f"{asset.resource} serves this version; the workspace has no such version"
        fix = f"{fixes.refresh_up}: refresh drops the resource, up registers its content again"
        return [Finding("missing", subject, detail, (fix,))]
    findings = []
    if found.digest != asset.digest:
        detail = (f"the workspace's version holds {_short(found.digest)}, {asset.resource} "
                  f"declares {_short(asset.digest)}")  # fmt: skip
        fix = (f"{fixes.replace(asset.urn)} registers the declared content as a new version "
               "(`pulumi refresh` does not read content back)")  # fmt: skip
        findings.append(Finding("content", subject, detail, (fix,)))
    if found.archived:
        detail = f"archived outside mlstack; {asset.resource} still serves it"
        restore = f"{fixes.refresh_up}: refresh records the archive, up restores it"
        if asset.archived:  # a refresh already recorded it
            restore = f"`pulumi up -s {fixes.stack}` restores it"
        stop = f"or, if it should go, remove its declaration from {FOLDERS[asset.kind]}/"
        findings.append(Finding("archived", subject, detail, (restore, stop)))
    return findings


def find_drift(
    state: StackState, versions: Iterable[AssetVersion], live: LiveEndpoints, fixes: Fixes
) -> list[Finding]:
    """Every drift between ``state``, the workspace's ``versions`` and ``live`` endpoints:
    the state's versions first, then orphans (in the workspace's order), then endpoints."""
    listed = {(v.kind, v.name, v.version): v for v in versions}
    findings: list[Finding] = []
    for asset in state.assets:
        current = listed.get((asset.kind, asset.name, asset.version))
        findings += _check_current(asset, current, fixes)
    owned = {(a.kind, a.name, v) for a in state.assets for v in (*a.registered, a.version)}
    declared = {(a.kind, a.name): a for a in state.assets}
    for key, version in listed.items():
        if version.archived or key in owned:
            continue
        detail = f"live in the workspace; no resource of stack {fixes.stack} registered it"
        adopt = fixes.adopt(version, declared.get((version.kind, version.name)))
        subject = f"{version.kind} {version.name}:{version.version}"
        findings.append(Finding("orphan", subject, detail, (adopt, "or " + fixes.archive(version))))
    for endpoint in state.endpoints:
        serving = live.traffic(endpoint.name)
        subject = f"endpoint {endpoint.name}"
        if serving is None:
            detail = f"the state declares {endpoint.traffic}; the endpoint serves nothing"
            findings.append(Finding("not-serving", subject, detail, (fixes.not_serving(),)))
        elif endpoint.traffic.differs_from(serving):
            detail = f"the state declares {endpoint.traffic}; the endpoint serves {serving}"
            findings.append(Finding("traffic", subject, detail, (fixes.traffic(endpoint),)))
    return findings


# -- one stack ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftReport:
    """A stack's drift findings; no finding means no drift."""

    stack: str
    target: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def drift(self) -> bool:
        return bool(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "target": self.target, "drift": self.drift,
                "findings": [f.to_dict() for f in self.findings]}  # fmt: skip


def endpoints_folder(stack: Stack) -> Path:
    """Where a local stack's endpoints run (``providers.endpoint.endpoint_folder``'s parent)."""
    return stack.project.stack_home(stack.name) / "endpoints"


def live_endpoints(stack: Stack, ws: Workspace) -> LiveEndpoints:
    """The stack's endpoints as its target serves them."""
    if isinstance(stack.locator, AzureLocator):
        return ServiceEndpoints(cast(ServiceWorkspace, ws).client)
    return RouterTables(endpoints_folder(stack))


def drift_report(stack: Stack) -> DriftReport:
    """Read the stack's state, workspace and endpoints, and compare them."""
    locator = stack.locator  # the stack file, validated before anything is asked of pulumi
    state = StackState.of(stack.name, stack.resources())
    ws = stack.workspace()
    versions = [v for kind in KINDS for v in ws.registry(kind).list()]
    fixes = Fixes(stack.name, locator, endpoints_folder(stack))
    findings = find_drift(state, versions, live_endpoints(stack, ws), fixes)
    return DriftReport(stack.name, stack.target, tuple(findings))
