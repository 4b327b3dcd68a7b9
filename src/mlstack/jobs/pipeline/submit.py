"""Run a pipeline job on the ``azure`` target: every component, input and environment exact.

Requests, in order (all through the workspace's ``MLClient``):

1. each step's component resolved by the workspace's component registry
   (:func:`mlstack.jobs.pipeline.component.resolve_components`: ``GET
   components/<n>/versions/<v>`` or, for a file, the version listing whose digest matches
   its content), then ``GET components/<n>/versions/<v>`` again for the environment the
   registered version holds (azure-ai-ml resolved its ``@latest`` to an exact version
   when ``pulumi up`` registered it; a component version is write-once, so that is the
   environment the step runs);
2. each data input (pipeline and step level) resolved to an exact version, as for a
   command job (``GET data/<n>`` → ``GET data/<n>/versions/<v>`` → ``ArchivedOnly``),
   then each environment version read for its digest (once per reference);
3. ``jobs.create_or_update``: azure-ai-ml reads the workspace (its component cache key)
   and ``PUT jobs/<id>`` with ``jobType: Pipeline``, each node naming its component by
   ``components/<n>/versions/<v>`` (no upload: nothing is anonymous);
4. ``GET jobs/<id>`` until a final status (:func:`mlstack.jobs.submit.watch`); between
   polls the child runs (``runs/<id>/children`` in run history) give each step's status.

A step whose component file is not registered is refused before any request that
writes: Azure ML would register an anonymous component with whatever the file holds
now, which no version names. The record holds the exact versions, so ``mlstack job
show`` answers "what ran" without Azure.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.retry import JOB_POLLS, RetryPolicy
from mlstack.errors import ConfigError, Problem, WorkspaceError
from mlstack.jobs.azure import Pinned, PinResolver
from mlstack.jobs.pipeline.component import StepComponent, resolve_components
from mlstack.jobs.pipeline.spec import PipelineSpec
from mlstack.jobs.record import FINAL, JobRecord, JobStore
from mlstack.jobs.runner import JOB_ENV, now
from mlstack.jobs.spec import AssetInput, load_entity
from mlstack.jobs.submit import INTERRUPTED, _resolver, _status, failure_reason, watch
from mlstack.project import Project
from mlstack.workspace.azure_registry import service_errors
from mlstack.workspace.protocol import ServiceWorkspace

__all__ = ["pinned_pipeline", "pipeline_body", "run_azure_pipeline", "step_environments"]

Echo = Callable[[str], None]
_FLOATING = re.compile(r"[@:/]latest$", re.IGNORECASE)
_PINNED_COMPONENT = re.compile(r"(/components/[^/]+/versions/[^/]+|^(azureml:)?[^:@/]+:[^:@/]+)$")
_ENV_ID = re.compile(r"/environments/([^/]+)/versions/([^/]+)$")
_REFS = ("componentId", "uri", "environmentId", "environment")
REUSED_FLAG, REUSED_JOB = "azureml.isreused", "azureml.reusedrunid"
"""The child-run properties that say Azure ML reused an earlier job (as azure-ai-ml reads
them: ``PipelineConstants``; not imported, which would import azure-ai-ml)."""


def new_job_id(spec: PipelineSpec) -> str:
    """``<name or file stem>_<10 hex>``, as the local runner names a pipeline run."""
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in spec.name or spec.source.stem)
    return f"{stem}_{uuid.uuid4().hex[:10]}"


def _as_dict(pinned: Pinned) -> dict[str, str]:
    return dict(zip(("name", "version", "digest"), pinned, strict=True))


def _memo(resolve: PinResolver) -> PinResolver:
    """One resolution per reference: one ``@latest`` is one version throughout a pipeline."""
    seen: dict[str, Pinned] = {}

    def once(ref: str) -> Pinned:
        if ref not in seen:
            seen[ref] = resolve(ref)
        return seen[ref]

    return once


def _compute_problems(spec: PipelineSpec, job: Any) -> list[Problem]:
    if spec.compute:
        return []
    bare = sorted(n for n, node in job.jobs.items() if not getattr(node, "compute", None))
    if not bare:
        return []
    return [Problem(str(spec.source), "settings.default_compute",
                    "an Azure ML pipeline needs a compute: set settings.default_compute "
                    f"(e.g. azureml:cpu-cluster) or compute: on each step (missing on "
                    f"{', '.join(bare)})")]  # fmt: skip


def _unregistered(
    spec: PipelineSpec, components: Mapping[str, StepComponent], stack: str | None
) -> list[Problem]:
    up = f"pulumi up -s {stack}" if stack else "pulumi up"
    return [
        Problem(
            str(spec.source),
            f"jobs.{step}.component",
            f"{c.file} is not registered in the workspace: run `{up}` to register "
            "assets/components, then submit",
        )
        for step, c in sorted(components.items())
        if c.version is None
    ]


def _pin_input(entry: Any, ref: str, data: PinResolver) -> Pinned:
    pinned = data(ref)
    getattr(entry, "_data", entry).path = f"azureml:{pinned[0]}:{pinned[1]}"  # NodeInput wraps it
    return pinned


def pinned_pipeline(
    spec: PipelineSpec, job_id: str, components: Mapping[str, StepComponent], *,
    data: PinResolver, environment: PinResolver, stack: str | None = None,
) -> Any:  # fmt: skip
    """azure-ai-ml's ``PipelineJob`` for ``spec`` with every reference exact.

    Each node runs ``azureml:NAME:VERSION`` of its component (a file component is
    submitted as the registered version holding its content; one not registered is
    refused), each registered data input is pinned, and each node carries ``MLSTACK_JOB``:
    its pinned inputs, its component's environment (``environment`` resolves
    ``StepComponent.environment``, which :func:`step_environments` makes the exact version
    the registered component holds) and the pipeline's identity. The step's own ``id``
    is null: Azure ML names child jobs itself, and scripts fall back to
    ``AZUREML_RUN_ID``.
    """
    job = load_entity(spec.source)
    problems = _compute_problems(spec, job) + _unregistered(spec, components, stack)
    if problems:
        raise ConfigError(problems)
    data = _memo(data)
    environment = _memo(environment)
    pipeline_inputs: dict[str, Any] = {}
    for key, value in spec.inputs.items():
        if isinstance(value, AssetInput) and value.asset_ref is not None:
            pipeline_inputs[key] = _as_dict(_pin_input(job.inputs[key], value.asset_ref, data))
    for name, step in spec.steps.items():
        node, component = job.jobs[name], components[name]
        # Command has no setter; a string component is submitted as its id, no upload.
        node._component = f"azureml:{component.name}:{component.version}"
        inputs: dict[str, Any] = {}
        for key, binding in step.inputs.items():
            if binding.kind == "parent" and binding.source in pipeline_inputs:
                inputs[key] = pipeline_inputs[binding.source]
            elif binding.kind == "data" and binding.data and (ref := binding.data.asset_ref):
                inputs[key] = _as_dict(_pin_input(node.inputs[key], ref, data))
        env = component.environment
        identity = {
            "id": None, "inputs": dict(sorted(inputs.items())),
            "environment": _as_dict(environment(env.removeprefix("azureml:"))) if env else None,
            "pipeline": {"id": job_id, "display_name": spec.display_name,
                         "inputs": dict(sorted(pipeline_inputs.items())), "steps": {}},
        }  # fmt: skip
        variables = dict(node.environment_variables or {})
        variables[JOB_ENV] = json.dumps(identity, sort_keys=True)
        node.environment_variables = variables
    job.name = job_id
    return job


def _floating(value: Any, where: str = "") -> list[str]:
    """Every reference in a REST body that does not name an exact version."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if key in _REFS and isinstance(item, str):
                loose = _FLOATING.search(item) or (
                    key == "componentId" and not _PINNED_COMPONENT.search(item)
                )
                if loose:
                    found.append(f"{path} = {item}")
            else:
                found += _floating(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _floating(item, f"{where}[{index}]")
    return found


def pipeline_body(spec: PipelineSpec, job: Any) -> dict[str, Any]:
    """The JSON of a pinned ``PipelineJob`` (before ARM-id resolution of names); refuses
    any component, input or environment still floating."""
    body: dict[str, Any] = job._to_rest_object().as_dict()
    floating = sorted(_floating(body.get("properties", {})))
    if floating:
        raise WorkspaceError(
            f"{spec.source}: {', '.join(floating)} is still floating after pinning; "
            "name every component, input and environment by an exact version"
        )
    return body


def step_environments(
    workspace: ServiceWorkspace, components: Mapping[str, StepComponent]
) -> dict[str, StepComponent]:
    """Each registered component with the environment its version holds on the service
    (``NAME:VERSION``), read from the component version itself."""
    held: dict[tuple[str, str | None], str | None] = {}
    out = {}
    for step, c in components.items():
        key = (c.name, c.version)
        if c.version is not None and key not in held:
            with service_errors(f"reading component {c.name}:{c.version}"):
                entity = workspace.client.components.get(c.name, version=c.version)
            match = _ENV_ID.search(str(getattr(entity, "environment", "") or ""))
            held[key] = f"{match[1]}:{match[2]}" if match else None
        exact = held.get(key)
        out[step] = replace(c, spec={**c.spec, "environment": exact}) if exact else c
    return out


def _inputs_record(spec: PipelineSpec, job: Any) -> dict[str, Any]:
    """Pipeline inputs for the record: exact data versions, literals, other paths."""
    first = json.loads(next(iter(job.jobs.values())).environment_variables[JOB_ENV])
    pinned = first["pipeline"]["inputs"]
    out: dict[str, Any] = {}
    for key, value in spec.inputs.items():
        if key in pinned:
            out[key] = pinned[key]
        elif isinstance(value, AssetInput):
            out[key] = {"path": value.path}
        else:
            out[key] = {"value": value}
    return dict(sorted(out.items()))


def _steps_record(spec: PipelineSpec, job: Any, components: Mapping[str, StepComponent]
                  ) -> dict[str, Any]:  # fmt: skip
    steps = {}
    for name in (n for level in spec.levels() for n in level):
        identity = json.loads(job.jobs[name].environment_variables[JOB_ENV])
        steps[name] = {"job": None, "component": components[name].label, "status": "NotStarted",
                       "reused_from": None, "upstream": sorted(spec.steps[name].upstream()),
                       "environment": identity["environment"]}  # fmt: skip
    return steps


class _Child(NamedTuple):
    """A step's child job as run history reports it."""

    name: str
    status: str
    reused_from: str | None
    """The earlier job whose outputs Azure ML reused for this step, if it did."""


def _step_record(pipeline: JobRecord, step: str, child: _Child, component: StepComponent
                 ) -> JobRecord:  # fmt: skip
    """A step's record, under the child job's own name, as the contract has it."""
    facts = pipeline.extra["steps"][step]
    return JobRecord(
        id=child.name, kind="command", status=child.status, stack=pipeline.stack,
        parent=pipeline.id, source=str(component.file or pipeline.source),
        environment=facts["environment"], created_at=now(),
        ended_at=now() if child.status in FINAL else "",
        extra={"step": step, "component": component.label, "component_digest": component.digest,
               "reuse_key": "", "reused_from": child.reused_from, "target": "azure"},
    )  # fmt: skip


def _child_steps(workspace: ServiceWorkspace, spec: PipelineSpec, job_id: str
                 ) -> dict[str, _Child]:  # fmt: skip
    """Step → its child job from run history; the step is the child's node id or display
    name (the node's display name, its step name by default). A step Azure ML reused
    says so in the properties azure-ai-ml reads (``azureml.isreused``, ``…reusedrunid``)."""
    names = {spec.steps[n].display_name or n: n for n in spec.steps} | {n: n for n in spec.steps}
    found: dict[str, _Child] = {}
    # azure-ai-ml's jobs.list(parent_job_name=...) GETs the parent first; this is its call.
    for child in workspace.client.jobs._runs_operations.get_run_children(job_id):
        if child is None:
            continue
        properties = child.properties or {}
        node = str(properties.get("azureml.nodeid", ""))
        step = names.get(node) or names.get(str(child.display_name or ""))
        reused = properties.get(REUSED_FLAG) == "true" and properties.get(REUSED_JOB)
        if step is not None:
            found[step] = _Child(str(child.name), _status(child), str(reused) if reused else None)
    return found


def run_azure_pipeline(
    home: Path, stack: str, spec: PipelineSpec, workspace: ServiceWorkspace, *, echo: Echo,
    wait: bool = True, sleep: Callable[[float], None] | None = None,
    backoff: RetryPolicy = JOB_POLLS, root: Path | None = None,
) -> JobRecord:  # fmt: skip
    """Submit ``spec`` pinned to exact versions; with ``wait``, watch it to a final status.

    ``root`` is the project root component files must live in (default: the pipeline
    file's project). The record is stored at submission and at every status change of
    the pipeline or of a step.
    """
    root = root or Project.find(spec.source.parent).root
    with SqliteHashCache.in_home(home) as cache:
        found = resolve_components(spec, workspace.registry("component"), root, cache)
    problems = _unregistered(spec, found, stack)
    if problems:
        raise ConfigError(problems)
    components = step_environments(workspace, found)
    job_id = new_job_id(spec)
    job = pinned_pipeline(spec, job_id, components, data=_resolver(workspace.data),
                          environment=_resolver(workspace.environments), stack=stack)  # fmt: skip
    pipeline_body(spec, job)  # refuses a reference still floating
    steps = _steps_record(spec, job, components)
    with service_errors(f"submitting pipeline {job_id}"):
        created = workspace.client.jobs.create_or_update(job)
    status = _status(created)
    studio = getattr(created, "studio_url", None) or ""
    envs = {json.dumps(s["environment"], sort_keys=True) for s in steps.values()}
    store = JobStore.at(home, stack)
    stamp = now()
    record = store.put(JobRecord(
        id=job_id, kind="pipeline", status=status, stack=stack, source=str(spec.source),
        inputs=_inputs_record(spec, job),
        environment=json.loads(envs.pop()) if len(envs) == 1 else None,
        created_at=stamp, started_at=stamp,
        extra={"target": "azure", "display_name": spec.display_name, "compute": spec.compute,
               "studio_url": studio, "steps": steps},
    ))  # fmt: skip
    echo(f"submitted pipeline {job_id}: {status}" + (f"  {studio}" if studio else ""))
    if not wait:
        return record

    return _Follow(workspace, spec, components, store=store, record=record, echo=echo).run(
        sleep or time.sleep, backoff
    )


class _Follow:
    """Watch a submitted pipeline; keep its record and its steps' records current."""

    def __init__(
        self, workspace: ServiceWorkspace, spec: PipelineSpec,
        components: Mapping[str, StepComponent], *, store: JobStore, record: JobRecord,
        echo: Echo,
    ) -> None:  # fmt: skip
        self.workspace, self.spec, self.components = workspace, spec, components
        self.store, self.record, self.echo = store, record, echo
        self.created: dict[str, str] = {}
        """Child job name → when it was first seen."""

    def refresh(self, pipeline_status: str | None = None, *, children: bool = True) -> None:
        """Store the pipeline's new status and, from the child runs, each step's."""
        record = self.record
        found: dict[str, _Child] = {}
        try:
            found = _child_steps(self.workspace, self.spec, record.id) if children else {}
        except Exception:  # step statuses are a courtesy: the pipeline's status is the fact
            found = {}
        steps = {k: dict(v) for k, v in record.extra["steps"].items()}
        for step, child in found.items():
            was = steps[step]
            if (was["job"], was["status"], was["reused_from"]) == child:
                continue
            if child.reused_from and was["reused_from"] != child.reused_from:
                self.echo(f"step {step}: reused from {child.reused_from} (Azure ML reuse)")
            if was["status"] != child.status:
                self.echo(f"step {step}: {was['status']} -> {child.status}")
            steps[step] |= {"job": child.name, "status": child.status,
                            "reused_from": child.reused_from}  # fmt: skip
            first = self.created.setdefault(child.name, now())
            child_record = _step_record(record, step, child, self.components[step])
            self.store.put(child_record.evolve(created_at=first))
        changes: dict[str, Any] = {"extra": {**record.extra, "steps": steps}}
        if pipeline_status is not None:
            changes["status"] = pipeline_status
        if changes != {"extra": record.extra}:
            self.record = self.store.put(record.evolve(**changes))

    def run(self, sleep: Callable[[float], None], backoff: RetryPolicy) -> JobRecord:
        def between_polls(seconds: float) -> None:
            self.refresh()  # the steps move between the pipeline's own status changes
            sleep(seconds)

        def changed(new: str) -> None:
            self.refresh(new, children=new in FINAL)  # the steps' last word comes with the end

        job_id = self.record.id
        final = watch(self.workspace, job_id, status=self.record.status, echo=self.echo,
                      sleep=between_polls, backoff=backoff, on_change=changed)  # fmt: skip
        if final == INTERRUPTED:
            return self.store.get(job_id).evolve(reason="still running on Azure ML; not cancelled")
        reason = failure_reason(self.workspace, job_id) if final == "Failed" else ""
        declared = self.spec.outputs.items()
        outputs = {k: f"{o.name}:{o.version}" for k, o in declared if o.name and o.version}
        return self.store.put(self.record.evolve(
            status=final, reason=reason, ended_at=now(),
            outputs=outputs if final == "Completed" else {},
        ))  # fmt: skip
