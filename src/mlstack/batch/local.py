"""A batch invoke on the local target: the deployment's script over a data version, its
predictions registered as a new data version with lineage.

Inputs are resolved and fetched through the workspace protocol, verified file by file
against their manifests (as ``mlstack data download`` does), into a cache folder keyed by
name and version, so a second invoke over the same versions downloads nothing. The
output is registered with ``register_folder`` only after every mini-batch has finished
within the error threshold: an aborted job leaves no version.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlstack.batch.runner import BatchReport, Schedule, run_batch
from mlstack.config.batch import BatchDeploymentSpec
from mlstack.content.download import download
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.errors import BatchError, NotFoundError
from mlstack.workspace.asset import AssetRef, AssetVersion, upload_prefix
from mlstack.workspace.protocol import AssetRegistry, Workspace
from mlstack.workspace.register import register_folder

__all__ = ["BatchOutcome", "invoke_local", "lineage", "live_version"]


@dataclass(frozen=True)
class BatchOutcome:
    """What one invoke read, did and wrote (``output`` None for ``summary_only``)."""

    input: AssetVersion
    model: AssetVersion
    report: BatchReport
    output: AssetVersion | None
    new: bool


def live_version(registry: AssetRegistry, ref: AssetRef) -> AssetVersion:
    """The version ``ref`` names (latest: newest not archived); an archived pin is refused."""
    version = registry.get(ref.name, ref.version)
    if version.archived:
        raise NotFoundError(
            f"{registry.kind} {version.name}:{version.version} is archived: restore it with "
            f"`mlstack {'env' if registry.kind == 'environment' else registry.kind} restore "
            f"{version.name}:{version.version}` or name another version"
        )
    return version


def _fetch(ws: Workspace, registry: AssetRegistry, version: AssetVersion, dest: Path) -> Path:
    manifest = registry.manifest(version.name, version.version)
    dest.mkdir(parents=True, exist_ok=True)
    prefix = upload_prefix(version.digest, version.name)
    download(ws.endpoint, ws.container, prefix, manifest, dest, progress=False)
    return dest


def lineage(
    endpoint: str, deployment: str, data: AssetVersion, model: AssetVersion, report: BatchReport
) -> dict[str, str]:
    """The output version's properties: what produced it, from which exact versions."""
    return {
        "mlstack.batch.endpoint": endpoint,
        "mlstack.batch.deployment": deployment,
        "mlstack.batch.model": f"{model.name}:{model.version}",
        "mlstack.batch.model_digest": model.digest,
        "mlstack.batch.input": f"{data.name}:{data.version}",
        "mlstack.batch.input_digest": data.digest,
        "mlstack.batch.items": str(report.items),
        "mlstack.batch.failed_items": str(report.failed_items),
        "mlstack.batch.mini_batches": str(report.mini_batches),
    }


def invoke_local(
    ws: Workspace,
    deployment: BatchDeploymentSpec,
    input_ref: str,
    cache: Path,
    output_name: str,
    *,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> BatchOutcome:
    """Score the data version ``input_ref`` with ``deployment``; register its predictions."""
    data = live_version(ws.data, AssetRef.parse(input_ref.removeprefix("azureml:")))
    model_ref = AssetRef(deployment.model.name, deployment.model.version)
    model = live_version(ws.models, model_ref)
    inputs = _fetch(ws, ws.data, data, cache / "data" / f"{data.name}-{data.version}")
    models = _fetch(ws, ws.models, model, cache / "models" / f"{model.name}-{model.version}")
    files = [str(inputs / e.path) for e in ws.data.manifest(data.name, data.version).entries]
    if not files:
        raise BatchError(f"data {data.name}:{data.version} holds no files: nothing to score")
    if on_start is not None:
        on_start(len(files))
    schedule = Schedule(
        mini_batch_size=deployment.mini_batch_size,
        concurrency=deployment.max_concurrency_per_instance * deployment.instance_count,
        max_retries=deployment.max_retries,
        timeout=deployment.timeout,
        error_threshold=deployment.error_threshold,
    )
    env = {**deployment.environment_variables, "AZUREML_MODEL_DIR": str(models)}
    script = deployment.code / deployment.scoring_script
    report = run_batch(script, sorted(files), schedule, env, on_progress)
    if deployment.output_action == "summary_only":
        return BatchOutcome(data, model, report, None, False)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".output-") as folder:
        out = Path(folder)
        text = "".join(f"{row}\n" for row in report.rows)
        (out / deployment.output_file_name).write_text(text, encoding="utf-8")
        registered = register_folder(
            ws, "data", output_name, out, scan(out, NoCache()), type_="uri_folder",
            properties=lineage(deployment.endpoint_name, deployment.name, data, model, report),
            description=(
                f"Batch predictions of {deployment.endpoint_name}/{deployment.name}: model "
                f"{model.name}:{model.version} over data {data.name}:{data.version}."
            ),
            tags={"mlstack.batch.endpoint": deployment.endpoint_name},
        )  # fmt: skip
    return BatchOutcome(data, model, report, registered.version, registered.new)
