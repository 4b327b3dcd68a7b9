"""What each asset resource is declared with: digests, review summaries, gate decisions.

Computed before anything is declared, so every problem in every spec and folder is
reported together and a preview can say what changes and why (``1 changed since
version 1``, ``test.accuracy 0.962 → 0.975``, ``rollback to version 1``) without
uploading anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.config.assets import DataSpec
from mlstack.config.components import ComponentSpec, component_digest, spec_changes
from mlstack.config.endpoints import EndpointSpec
from mlstack.config.environments import EnvironmentSpec
from mlstack.config.models import ModelSpec
from mlstack.config.resources import (
    ComponentInputs,
    DataInputs,
    DeploymentInputs,
    EndpointInputs,
    EnvironmentInputs,
    ModelInputs,
    PromotedDataInputs,
    PromotedModelInputs,
    ResourceInputs,
)
from mlstack.config.stack import Promotion, StackConfig, stack_file
from mlstack.content.artefact import Artefact, metric, read_artefact
from mlstack.content.hashcache import HashCache
from mlstack.content.manifest import Manifest
from mlstack.content.scan import scan
from mlstack.errors import ConfigError, MlstackError, NotFoundError, Problem
from mlstack.project import Project
from mlstack.providers.endpoint import observed_health
from mlstack.providers.promoted import source_version
from mlstack.stack import Stack
from mlstack.workspace import Workspace
from mlstack.workspace.asset import AssetVersion

HEADLINE_METRIC = "test.accuracy"  # shown in reviews when a model declares no gate


@dataclass(frozen=True)
class PlanContext:
    """What every planning step reads from, and where it records problems."""

    config: StackConfig
    project: Project
    ws: Workspace
    cache: HashCache
    problems: list[Problem]

    def base(self, name: str) -> dict[str, Any]:
        """The inputs every asset resource carries: where its workspace is, and its name."""
        return {"workspace": self.config.locator, "name": name}

    def scan(self, path: Path, spec_file: Path) -> Manifest | None:
        """The folder's manifest, or None with its problems recorded against the spec."""
        try:
            return scan(path, self.cache)
        except ConfigError as error:
            self.problems.extend(
                Problem(str(spec_file), f"path ({p.file})", p.reason) for p in error.problems
            )
            return None


@dataclass(frozen=True)
class Planned:
    """One asset resource to declare, or a note saying why it is held back."""

    name: str
    inputs: ResourceInputs | None
    note: str = ""
    """A warning: why the resource is held back (or keeps its version)."""
    info: str = ""
    """A notice attached to the resource, e.g. that it rolls back to an earlier version."""


def _promoted(
    ctx: PlanContext, kind: str, name: str, promotion: Promotion, metadata: dict[str, Any]
) -> tuple[ResourceInputs, Workspace] | None:
    """The inputs of a promoted version, checked against its source already at preview."""
    field = f"mlstack:promotions.{'models' if kind == 'model' else 'data'}.{name}"
    try:
        source_stack = Stack(ctx.project, promotion.source)
        source_locator = source_stack.locator  # as the resource records it
        source = source_stack.workspace()
        found = source_version(
            source, kind, name, source_stack=promotion.source, version=promotion.version,
            digest=promotion.digest,
        )  # fmt: skip
    except MlstackError as error:
        ctx.problems.append(Problem(stack_file(ctx.config.stack), field, str(error)))
        return None
    model = PromotedModelInputs if kind == "model" else PromotedDataInputs
    if kind == "model":  # what the source recorded, for the policy pack's lineage and gates
        shown = ("metrics", "lineage")
        metadata = {**metadata, "properties": {k: found.properties[k] for k in shown
                                               if k in found.properties}}  # fmt: skip
    inputs = model(
        **ctx.base(name), type=found.type, source_stack=promotion.source,
        source_version=promotion.version, source_workspace=source_locator,
        digest=promotion.digest, files=found.files, bytes=found.bytes, **metadata,
    )  # fmt: skip
    return inputs, source


def change_summary(ws: Workspace, name: str, manifest: Manifest) -> str:
    """How ``manifest`` differs from the latest registered data version."""
    try:
        latest = ws.data.get(name)
    except NotFoundError:
        return str(manifest.changes_since(None))
    if latest.digest == manifest.digest:
        return f"no file changes (version {latest.version})"
    earlier = ws.data.manifest(name, latest.version)
    return f"{manifest.changes_since(earlier)} since version {latest.version}"


def plan_data(ctx: PlanContext, specs: tuple[DataSpec, ...]) -> list[Planned]:
    planned = []
    for spec in specs:
        promotion = ctx.config.promotions.data.get(spec.name)
        if promotion is not None:
            metadata = {
                "description": spec.description, "tags": spec.tags,
                "changes": f"promoted from {promotion.source}:{promotion.version}",
            }  # fmt: skip
            item = _promoted(ctx, "data", spec.name, promotion, metadata)
            planned += [Planned(spec.name, item[0])] if item else []
            continue
        manifest = ctx.scan(spec.path, spec.file)
        if manifest is None:
            continue
        inputs = DataInputs(
            **ctx.base(spec.name), type=spec.type, source=str(spec.path),
            digest=manifest.digest, files=manifest.files, bytes=manifest.bytes,
            changes=change_summary(ctx.ws, spec.name, manifest),
            description=spec.description, tags=spec.tags, version_pin=spec.version or "",
        )  # fmt: skip
        planned.append(Planned(spec.name, inputs))
    return planned


def plan_environments(ctx: PlanContext, specs: tuple[EnvironmentSpec, ...]) -> list[Planned]:
    planned = []
    for spec in specs:
        inputs = EnvironmentInputs(
            **ctx.base(spec.name), image=spec.image, conda=spec.conda, digest=spec.digest,
            description=spec.description, tags=spec.tags, version_pin=spec.version or "",
        )  # fmt: skip
        planned.append(Planned(spec.name, inputs))
    return planned


def component_changes(ws: Workspace, spec: ComponentSpec, manifest: Manifest, digest: str) -> str:
    """How the component differs from its latest version: ``code: 2 changed; command changed``."""
    try:
        latest = ws.registry("component").get(spec.name)
    except NotFoundError:
        return f"new component ({manifest.changes_since(None)})"
    if latest.digest == digest:
        return f"no changes (version {latest.version})"
    parts = spec_changes(dict(latest.properties.get("spec") or {}), spec.spec)
    if latest.properties.get("code_digest") != manifest.digest:
        earlier = ws.registry("component").manifest(spec.name, latest.version)
        code = manifest.changes_since(earlier)
        parts.insert(0, f"code: {code}")
    return f"{'; '.join(parts) or 'metadata only'} since version {latest.version}"


def plan_components(ctx: PlanContext, specs: tuple[ComponentSpec, ...]) -> list[Planned]:
    planned = []
    for spec in specs:
        manifest = ctx.scan(spec.code, spec.file)
        if manifest is None:
            continue
        digest = component_digest(spec.spec, manifest.digest)
        inputs = ComponentInputs(
            **ctx.base(spec.name), spec=spec.spec, digest=digest, code_digest=manifest.digest,
            source=str(spec.code), files=manifest.files, bytes=manifest.bytes,
            changes=component_changes(ctx.ws, spec, manifest, digest),
            description=spec.description, tags=spec.tags, version_pin=spec.version or "",
        )  # fmt: skip
        planned.append(Planned(spec.name, inputs))
    return planned


def metrics_change(spec: ModelSpec, before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """``test.accuracy 0.962 → 0.975`` for each gated (or the headline) metric."""
    names = [f"{g.split}.{g.metric}" for g in spec.gates] or [HEADLINE_METRIC]
    parts = []
    for name in dict.fromkeys(names):
        new = metric(after, name)
        old = metric(before, name) if before is not None else None
        if new is None:
            continue
        parts.append(f"{name} {new:.4f}" if old is None else f"{name} {old:.4f} → {new:.4f}")
    return ", ".join(parts) or "no metrics"


def _model_inputs(
    ctx: PlanContext, spec: ModelSpec, content: AssetVersion | Manifest,
    properties: dict[str, Any], change: str,
) -> ModelInputs:  # fmt: skip
    return ModelInputs(
        **ctx.base(spec.name), type=spec.type, source=str(spec.path), spec=str(spec.file),
        digest=content.digest, files=content.files, bytes=content.bytes,
        properties=properties, gates=gates_of(spec), metrics_change=change,
        description=spec.description, tags=spec.tags, stage=spec.stage or "",
        version_pin=spec.version or "",
    )  # fmt: skip


def gates_of(spec: ModelSpec) -> dict[str, float]:
    """The spec's gates as its YAML declares them, for the inputs (the policy pack checks them)."""
    return {gate.property_key: gate.value for gate in spec.gates}


def _artefact_or_hold(ctx: PlanContext, spec: ModelSpec) -> tuple[Artefact | None, str]:
    """The artefact to register, or why the model is held back (None, reason).

    Not trained yet or below a gate holds the model back; an incomplete or half-written
    artefact is a problem (None, "").
    """
    writing = any(spec.path.parent.glob(f".{spec.path.name}.tmp-*"))
    if not spec.path.exists() and not writing:
        return None, f"{spec.path} does not exist yet: train the model, then run `pulumi up`"
    try:
        artefact = read_artefact(spec.path, str(spec.file))
    except ConfigError as error:
        ctx.problems.extend(error.problems)
        return None, ""
    failed = [reason for reason in (g.check(artefact.metrics) for g in spec.gates) if reason]
    if failed:
        return None, "not registered: " + "; ".join(failed)
    return artefact, ""


def _plan_promoted_model(
    ctx: PlanContext, spec: ModelSpec, promotion: Promotion, current: AssetVersion | None
) -> list[Planned]:
    source = f"{promotion.source}:{promotion.version}"
    metadata = {"description": spec.description, "tags": spec.tags, "stage": spec.stage or "",
                "spec": str(spec.file), "metrics_change": f"promoted from {source}",
                "gates": gates_of(spec)}  # fmt: skip
    item = _promoted(ctx, "model", spec.name, promotion, metadata)
    if item is None:
        return []
    inputs, source_ws = item
    info = ""
    versions = ctx.ws.models.list(spec.name)
    held = _held_version(versions, promotion.digest)
    if held is not None and current is not None and len(versions) > 1:
        change, info = _return_to(ctx, spec.name, held.version, current.version, source)
    elif current is not None and current.digest == promotion.digest:
        change = f"unchanged (version {current.version}, from {source})"
    else:
        after = dict(source_ws.models.get(spec.name, promotion.version).properties)
        before = dict(current.properties.get("metrics", {})) if current else None
        change = metrics_change(spec, before, dict(after.get("metrics", {})))
        change = f"{change} (promoted from {source})"
    inputs = inputs.model_copy(update={"metrics_change": change})
    return [Planned(spec.name, inputs, info=info)]


def _version_key(version: str) -> tuple[int, str]:
    """Numbers in numeric order, then pinned names such as ``v2``."""
    return (int(version), "") if version.isdigit() else (1 << 62, version)


def _held_version(versions: list[AssetVersion], digest: str) -> AssetVersion | None:
    """The version that holds ``digest`` already, if any: the one registration gives back
    for identical content (the highest)."""
    held = [v for v in versions if v.digest == digest]
    return max(held, key=lambda v: _version_key(v.version)) if held else None


def _served_version(ctx: PlanContext, name: str) -> str | None:
    """The version of model ``name`` the stack's last ``pulumi up`` left in place (its
    ``models`` output), or None when the stack's outputs cannot be read."""
    try:
        models = Stack(ctx.project, ctx.config.stack).output("models")
    except MlstackError:
        return None
    found = models.get(name) if isinstance(models, dict) else None
    version = found.get("version") if isinstance(found, dict) else None
    return str(version) if version else None


def _return_to(ctx: PlanContext, name: str, held: str, latest: str, source: str) -> tuple[str, str]:
    """(change summary, notice) for a pin whose content this workspace already holds as
    version ``held``, beside other versions: no version is registered, and the stack
    serves ``held`` — a rollback when it is older than the version served now.

    The workspace knows only the ``latest`` version; which one the stack serves (after a
    rollback, not the latest) is read from the stack's outputs, so only here, where
    several versions make it matter. Unreadable outputs fall back to the latest.
    """
    served = _served_version(ctx, name)
    if (served or latest) == held:
        return f"unchanged (version {held}, from {source})", ""
    now = f"now serving {served}" if served else f"latest is {latest}"
    if _version_key(held) < _version_key(served or latest):
        change = f"rollback to version {held} ({now}; from {source})"
        return change, f"model {name}: rollback to version {held} ({now})"
    change = f"back to version {held} ({now}; from {source})"
    return change, f"model {name}: back to version {held} ({now})"


def plan_models(ctx: PlanContext, specs: tuple[ModelSpec, ...]) -> list[Planned]:
    """A new version for each complete artefact that passes its gates.

    A model held back keeps its current version (or is not declared if it has none), and
    the note says why.
    """
    planned = []
    for spec in specs:
        try:
            current: AssetVersion | None = ctx.ws.models.get(spec.name)
        except NotFoundError:
            current = None
        promotion = ctx.config.promotions.models.get(spec.name)
        if promotion is not None and promotion.via == "registry":
            continue  # served from the Azure ML registry: nothing to copy (program.azure)
        if promotion is not None:
            planned += _plan_promoted_model(ctx, spec, promotion, current)
            continue
        if ctx.config.model_source == "promotion":
            note = (
                f"model {spec.name}: this stack takes models only through promotion: run "
                f"`mlstack promote {spec.name} --from <stack> --to {ctx.config.stack}`"
            )
            planned.append(Planned(spec.name, None, note))
            continue
        artefact, hold = _artefact_or_hold(ctx, spec)
        if artefact is None:
            if not hold:
                continue
            if current is None:
                planned.append(Planned(spec.name, None, f"model {spec.name}: {hold}"))
                continue
            note = f"model {spec.name}: {hold}; keeping version {current.version}"
            inputs = _model_inputs(ctx, spec, current, dict(current.properties), "unchanged")
            planned.append(Planned(spec.name, inputs, note))
            continue
        manifest = ctx.scan(spec.path, spec.file)
        if manifest is None:
            continue
        before = dict(current.properties.get("metrics", {})) if current else None
        change = metrics_change(spec, before, artefact.metrics)
        if current is not None and current.digest == manifest.digest:
            change = f"unchanged (version {current.version})"
        properties = {"metrics": artefact.metrics, "lineage": artefact.lineage}
        planned.append(Planned(spec.name, _model_inputs(ctx, spec, manifest, properties, change)))
    return planned


def plan_endpoints(
    ctx: PlanContext, specs: tuple[EndpointSpec, ...], models: list[Planned]
) -> list[Planned]:
    """Each endpoint's deployments, serving the model version this stack declares.

    On the local target a deployment follows the stack's own version of its model (the
    version in the deployment YAML is what Azure serves), so a new model version rolls
    the endpoint; code changes roll it too, through the code folder's digest.
    """
    declared = {m.name: m.inputs for m in models if m.inputs is not None}
    planned = []
    for spec in specs:
        deployments: dict[str, DeploymentInputs] = {}
        missing = [d.model.name for d in spec.deployments if d.model.name not in declared]
        if missing:
            note = (f"endpoint {spec.name}: model {missing[0]} is not registered in this stack "
                    "yet, so the endpoint is not deployed")  # fmt: skip
            planned.append(Planned(spec.name, None, note))
            continue
        for dep in spec.deployments:
            code = ctx.scan(dep.code, dep.file)
            if code is None:
                continue
            model = declared[dep.model.name]
            deployments[dep.name] = DeploymentInputs(
                model=dep.model.name, model_digest=getattr(model, "digest", ""),
                code=str(dep.code), code_digest=code.digest, scoring_script=dep.scoring_script,
                environment_variables=dict(dep.environment_variables),
            )  # fmt: skip
        inputs = EndpointInputs(
            **ctx.base(spec.name), traffic=dict(spec.traffic), deployments=deployments,
            health=observed_health(ctx.project.home, ctx.config.stack, spec.name),
        )  # fmt: skip
        planned.append(Planned(spec.name, inputs))
    return planned
