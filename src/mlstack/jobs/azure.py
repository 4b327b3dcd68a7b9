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
from collections.abc import Callable
from typing import Any

from mlstack.errors import WorkspaceError
from mlstack.jobs.runner import JOB_ENV
from mlstack.jobs.spec import AssetInput, JobSpec, load_entity

__all__ = ["Pinned", "pinned_job", "submission_body"]

Pinned = tuple[str, str, str]
"""(name, version, digest) of a registered asset."""
PinResolver = Callable[[str], Pinned]


def _pin(ref: str | None, resolve: PinResolver) -> tuple[str | None, Pinned | None]:
    if not ref:
        return None, None
    name, version, digest = resolve(ref.removeprefix("azureml:"))
    return f"azureml:{name}:{version}", (name, version, digest)


def pinned_job(spec: JobSpec, job_id: str, *, data: PinResolver, environment: PinResolver) -> Any:
    """azure-ai-ml's job entity for ``spec`` with every asset reference pinned."""
    from azure.ai.ml import Input  # noqa: PLC0415 - heavy, only when submitting

    entity = load_entity(spec.source)
    job = entity._to_job() if spec.sweep is None else entity
    identity: dict[str, Any] = {"id": job_id, "inputs": {}, "environment": None}
    for key, value in spec.inputs.items():
        if isinstance(value, AssetInput) and value.asset_ref is not None:
            path, pinned = _pin(value.path, data)
            assert pinned is not None
            job.inputs[key] = Input(type=value.type, path=path, mode=value.mode)
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


def submission_body(
    spec: JobSpec, job_id: str, *, data: PinResolver, environment: PinResolver
) -> dict[str, Any]:
    """The JSON ``jobs.create_or_update`` would PUT (before ARM-id resolution of names)."""
    body: dict[str, Any] = (
        pinned_job(spec, job_id, data=data, environment=environment)._to_rest_object().as_dict()
    )
    if "@latest" in json.dumps(body):
        raise WorkspaceError(
            f"{spec.source}: a reference is still floating (@latest) after pinning; "
            "name every input and the environment by version"
        )
    return body
