"""The body an Azure ML submission sends: the same YAML, every ``@latest`` pinned.

``MLClient.jobs.create_or_update(job)`` PUTs ``job._to_rest_object()`` (after uploading
the code and turning names into ARM ids). A floating ``@latest`` would let the service
pick whatever version is newest when the job starts, so the lineage could not say what
was trained on: every data input and the environment are pinned here to the exact
version the workspace resolves now, and ``MLSTACK_JOB`` carries those versions and
digests to the script, exactly as the local runner sets it. The job's ``name`` is the
mlstack job id, so the Azure job and the local record share one id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from mlstack.errors import WorkspaceError
from mlstack.jobs.runner import JOB_ENV
from mlstack.jobs.spec import AssetInput, JobSpec, load_entity

__all__ = ["PinResolver", "Pinned", "pinned_job", "rest_body", "submission_body"]

_FLOATING = re.compile(r"[@:/]latest$", re.IGNORECASE)
Pinned = tuple[str, str, str]
"""(name, version, digest) of a registered asset."""
PinResolver = Callable[[str], Pinned]


def _pin(ref: str | None, resolve: PinResolver) -> tuple[str | None, Pinned | None]:
    if not ref:
        return None, None
    name, version, digest = resolve(ref.removeprefix("azureml:"))
    return f"azureml:{name}:{version}", (name, version, digest)


def pinned_job(spec: JobSpec, job_id: str, *, data: PinResolver, environment: PinResolver) -> Any:
    """azure-ai-ml's entity for ``spec`` with every asset reference pinned.

    It is the entity ``load_job`` gives: a ``Command`` node for a command job
    (``jobs.create_or_update`` takes that, and refuses the ``CommandJob`` it converts to),
    or a ``SweepJob``. Pins are written into the loaded ``Input`` objects in place: a
    node's inputs wrap the same objects its job conversion reads.
    """
    job = load_entity(spec.source)
    identity: dict[str, Any] = {"id": job_id, "inputs": {}, "environment": None}
    for key, value in spec.inputs.items():
        if isinstance(value, AssetInput) and value.asset_ref is not None:
            path, pinned = _pin(value.path, data)
            assert pinned is not None
            entry = job.inputs[key]
            getattr(entry, "_data", entry).path = path  # NodeInput wraps the Input
            identity["inputs"][key] = dict(zip(("name", "version", "digest"), pinned, strict=True))
    env_path, env = _pin(spec.environment, environment)
    if env is not None:
        identity["environment"] = dict(zip(("name", "version", "digest"), env, strict=True))
    target = job.trial if spec.sweep is not None else job
    if env_path is not None:
        target.environment = env_path
    variables = dict(target.environment_variables or {})
    variables[JOB_ENV] = json.dumps(identity, sort_keys=True)
    target.environment_variables = variables
    job.name = job_id
    return job


def _floating(body: dict[str, Any]) -> list[str]:
    """Every asset reference of a REST body that does not name an exact version."""
    props = body.get("properties", {})
    refs = {f"inputs.{k}": v.get("uri") for k, v in (props.get("inputs") or {}).items()}
    refs["environment"] = props.get("environmentId")
    refs["trial.environment"] = (props.get("trial") or {}).get("environmentId")
    return sorted(f"{where} = {ref}" for where, ref in refs.items()
                  if isinstance(ref, str) and _FLOATING.search(ref))  # fmt: skip


def rest_body(spec: JobSpec, job: Any) -> dict[str, Any]:
    """The JSON of a pinned entity (before ARM-id resolution of names); refuses any
    reference still floating, so nothing is submitted that the lineage cannot name."""
    rest = (job._to_job() if spec.sweep is None else job)._to_rest_object()
    body: dict[str, Any] = rest.as_dict()
    floating = _floating(body)
    if floating:
        raise WorkspaceError(
            f"{spec.source}: {', '.join(floating)} is still floating after pinning; "
            "name every input and the environment by an exact version"
        )
    return body


def submission_body(
    spec: JobSpec, job_id: str, *, data: PinResolver, environment: PinResolver
) -> dict[str, Any]:
    """The JSON ``jobs.create_or_update`` would PUT (before ARM-id resolution of names)."""
    return rest_body(spec, pinned_job(spec, job_id, data=data, environment=environment))
