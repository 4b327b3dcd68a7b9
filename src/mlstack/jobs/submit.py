"""Run a job on the ``azure`` target: pin, submit with ``MLClient.jobs``, watch, record.

Requests, in order (``docs/azure.md`` style; all through the workspace's ``MLClient``):

1. each data input and the environment resolved to an exact version by the workspace's
   registries (``@latest``: data ``GET data/<n>`` → ``GET data/<n>/versions/<v>``;
   environments ``GET environments/<n>/versions?$orderBy=createdtime desc&$top=1``;
   each followed by the ``ArchivedOnly`` listing, as :class:`AzureRegistry` reads);
2. ``jobs.create_or_update``: azure-ai-ml snapshots ``code`` (a hash look-up, and an
   upload only when the service lacks that snapshot), then ``PUT jobs/<id>``;
3. ``GET jobs/<id>`` until a final status, waiting as ``content.retry.JOB_POLLS`` says
   (the one retry policy; azure-core retries a transient error of each GET underneath).
   A failed job's reason lives in run history only (one workspace read and discovery,
   then ``runs/<id>/details``).

The Azure job and the local record share the mlstack job id; the record holds the exact
versions, so ``mlstack job show`` answers "what was this trained on" without Azure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlstack.config.stack import StackConfig
from mlstack.content.retry import JOB_POLLS, RetryPolicy, poll_until
from mlstack.errors import WorkspaceError
from mlstack.jobs.azure import Pinned, PinResolver, pinned_job, rest_body
from mlstack.jobs.record import FINAL, JobRecord, JobStore
from mlstack.jobs.runner import JOB_ENV, new_job_id, now
from mlstack.jobs.spec import AssetInput, JobSpec
from mlstack.workspace.asset import AssetRef
from mlstack.workspace.azure_registry import service_errors, service_message
from mlstack.workspace.open import open_service
from mlstack.workspace.protocol import AssetRegistry, ServiceWorkspace

__all__ = ["INTERRUPTED", "connect_workspace", "run_azure_job", "watch"]

Echo = Callable[[str], None]
INTERRUPTED = "Interrupted"
"""Not a service status: polling stopped (Ctrl-C) while the job went on running."""


def connect_workspace(config: StackConfig) -> ServiceWorkspace:
    """The stack's Azure ML workspace, signed in as ``az login`` (or the environment) says."""
    assert config.azure is not None  # the config refuses an azure target without it
    return open_service(config.azure.locator)


def _resolver(registry: AssetRegistry) -> PinResolver:
    def resolve(ref: str) -> Pinned:
        asset = AssetRef.parse(ref)
        found = registry.get(asset.name, asset.version)
        return found.name, found.version, found.digest

    return resolve


def _status(entity: Any) -> str:
    status = getattr(entity, "status", None)
    return str(getattr(status, "value", status) or "Unknown")


def failure_reason(workspace: ServiceWorkspace, job_id: str) -> str:
    """The service's own words for a failed job (run history); a pointer if unreadable."""
    # azure-ai-ml has no public call for it; ``jobs.stream`` reads the same details.
    try:
        details = workspace.client.jobs._runs_operations.get_run_details(job_id)
        detail = getattr(getattr(details, "error", None), "error", None)
        message = getattr(detail, "message", None)
    except Exception as error:  # the reason is a courtesy: the status is the fact
        return f"the service gave no reason ({service_message(error)})"
    return str(message) if message else "the service gave no reason: see the job in the studio"


def watch(
    workspace: ServiceWorkspace, job_id: str, *, status: str, echo: Echo,
    sleep: Callable[[float], None] | None = None, backoff: RetryPolicy = JOB_POLLS,
    on_change: Callable[[str], None] | None = None,
) -> str:  # fmt: skip
    """Poll ``jobs.get`` until a final status, echoing each change; Ctrl-C stops polling
    (the job keeps running) and returns :data:`INTERRUPTED`."""
    known = [status]  # what the submission answered: the first look needs no GET

    def check() -> str:
        nonlocal status
        if known:
            return known.pop()
        with service_errors(f"reading job {job_id}"):
            now_status = _status(workspace.client.jobs.get(job_id))
        if now_status != status:
            echo(f"{job_id}: {status} -> {now_status}")
            status = now_status
            if on_change is not None:
                on_change(status)
        return status

    try:
        return poll_until(check, lambda now: now in FINAL, backoff, sleep or time.sleep)
    except KeyboardInterrupt:
        echo(f"stopped watching {job_id}; the job was NOT cancelled and keeps running on "
             f"Azure ML (cancel it with `az ml job cancel -n {job_id}`)")  # fmt: skip
        return INTERRUPTED


def _identity(spec: JobSpec, job: Any) -> dict[str, Any]:
    """The ``MLSTACK_JOB`` document the pinned job carries: exact versions and digests."""
    target = job.trial if spec.sweep is not None else job
    identity: dict[str, Any] = json.loads(target.environment_variables[JOB_ENV])
    return identity


def _inputs_record(spec: JobSpec, identity: dict[str, Any]) -> dict[str, Any]:
    """Exact versions of the data inputs, and the literals as given, for the record."""
    out: dict[str, Any] = dict(identity["inputs"])
    for key, value in spec.inputs.items():
        if not isinstance(value, AssetInput):
            out[key] = {"value": value}
        elif key not in out:
            out[key] = {"path": value.path}
    return dict(sorted(out.items()))


def run_azure_job(
    home: Path, stack: str, spec: JobSpec, workspace: ServiceWorkspace, *, echo: Echo,
    wait: bool = True, sleep: Callable[[float], None] | None = None,
    backoff: RetryPolicy = JOB_POLLS,
) -> JobRecord:  # fmt: skip
    """Submit ``spec`` pinned to exact versions; with ``wait``, watch it to a final status.

    The record is stored at submission and at every status change.
    """
    if not spec.compute:
        raise WorkspaceError(f"{spec.source}: an Azure ML job needs `compute:` "
                             "(e.g. azureml:cpu-cluster)")  # fmt: skip
    job_id = new_job_id(spec)
    job = pinned_job(spec, job_id, data=_resolver(workspace.data),
                     environment=_resolver(workspace.environments))  # fmt: skip
    rest_body(spec, job)  # refuses a reference still floating
    identity = _identity(spec, job)
    with service_errors(f"submitting job {job_id}"):
        created = workspace.client.jobs.create_or_update(job)
    status = _status(created)
    studio = getattr(created, "studio_url", None) or ""
    store = JobStore.at(home, stack)
    stamp = now()
    record = store.put(JobRecord(
        id=job_id, kind=spec.kind, status=status, stack=stack, source=str(spec.source),
        command=spec.command, inputs=_inputs_record(spec, identity),
        environment=identity["environment"],
        created_at=stamp, started_at=stamp,
        extra={"target": "azure", "compute": spec.compute, "studio_url": studio},
    ))  # fmt: skip
    echo(f"submitted {job_id} to {spec.compute}: {status}" + (f"  {studio}" if studio else ""))
    if not wait:
        return record

    def changed(new: str) -> None:
        store.put(record.evolve(status=new))

    final = watch(workspace, job_id, status=status, echo=echo, sleep=sleep, backoff=backoff,
                  on_change=changed)  # fmt: skip
    if final == INTERRUPTED:
        return store.get(job_id).evolve(reason="still running on Azure ML; not cancelled")
    reason = failure_reason(workspace, job_id) if final == "Failed" else ""
    return store.put(record.evolve(status=final, reason=reason, ended_at=now()))
