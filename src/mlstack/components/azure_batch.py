"""Batch endpoints inside an Azure ML workspace: endpoint → code → deployments.

Each deployment references the model and environment versions this stack registered (by
ARM id), so a new model version rolls a deployment that follows ``@latest``; a pinned
``azureml:<name>:<version>`` stays on that version. The scoring code is the same
content-addressed code version as an online deployment's (``EndpointHost.code``).

A code folder an online deployment already uploads (``training/``) is not declared twice:
its code version is named by the folder's digest, so a second resource would manage the
same ARM object; :class:`CodeShelf` hands the batch deployment the one already declared.

The endpoint is declared without ``defaults``: the service refuses a default deployment
that does not exist yet, and ``mlstack batch invoke`` names the deployment it submits to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from mlstack.components.azure_endpoints import CodeFactory, EndpointHost, held_back
from mlstack.config.batch import BatchDeploymentSpec, BatchEndpointSpec
from mlstack.config.endpoints import AssetReference, DeploymentSpec, EndpointSpec
from mlstack.errors import ConfigError, Problem

__all__ = ["CodeShelf", "declare_batch_endpoints"]


@dataclass
class CodeShelf:
    """``EndpointHost.code`` that remembers each folder's code version, so a batch
    deployment reuses the one an online deployment of the same folder declared (online
    deployments keep one code resource each, as their state already records)."""

    factory: CodeFactory
    made: dict[Path, ml.CodeVersion] = field(default_factory=dict)

    def __call__(self, spec: EndpointSpec, deployment: DeploymentSpec) -> ml.CodeVersion:
        version = self.factory(spec, deployment)
        self.made.setdefault(deployment.code, version)
        return version

    def reuse(self, spec: EndpointSpec, deployment: DeploymentSpec) -> ml.CodeVersion:
        return self.made.get(deployment.code) or self(spec, deployment)


def declare_batch_endpoints(
    host: EndpointHost,
    specs: Sequence[BatchEndpointSpec],
    models: Mapping[str, pulumi.Output[str]],
    environments: Mapping[str, pulumi.Output[str]],
) -> dict[str, ml.BatchEndpoint]:
    """Each batch endpoint with its deployments; one whose model this stack has not
    registered yet is held back with a warning, as online endpoints are."""
    missing_compute = [
        Problem(d.file.name, "compute", "required on Azure: name the cluster, `compute: "
                "azureml:cpu-cluster` (assets/compute)")
        for spec in specs for d in spec.deployments if not d.compute
    ]  # fmt: skip
    if missing_compute:
        raise ConfigError(missing_compute)
    declared = {}
    for spec in specs:
        if held_back("batch endpoint", spec.name, [d.model.name for d in spec.deployments],
                     models):  # fmt: skip
            continue
        endpoint = ml.BatchEndpoint(
            f"{host.prefix}-batch-endpoint-{spec.name}",
            endpoint_name=spec.name,
            workspace_name=host.workspace_name,
            resource_group_name=host.resource_group_name,
            location=host.location,
            tags={**host.tags, **spec.tags},
            properties=ml.BatchEndpointPropertiesArgs(
                auth_mode="AADToken", description=spec.description or None
            ),
            opts=host.options(),
        )
        for deployment in spec.deployments:
            _deployment(host, endpoint, spec, deployment, models=models, environments=environments)
        declared[spec.name] = endpoint
    return declared


def _code_owner(spec: BatchEndpointSpec, deployment: BatchDeploymentSpec) -> tuple[
    EndpointSpec, DeploymentSpec
]:  # fmt: skip
    """The shapes ``EndpointHost.code`` takes: it reads only the names and the code folder."""
    endpoint = EndpointSpec(name=spec.name, file=spec.file)
    online = DeploymentSpec(
        name=deployment.name, endpoint_name=spec.name,
        model=AssetReference(name=deployment.model.name, version=deployment.model.version or "0"),
        environment=deployment.environment, code=deployment.code,
        scoring_script=deployment.scoring_script, instance_type="batch", file=deployment.file,
    )  # fmt: skip
    return endpoint, online


def _deployment(
    host: EndpointHost,
    endpoint: ml.BatchEndpoint,
    spec: BatchEndpointSpec,
    deployment: BatchDeploymentSpec,
    *,
    models: Mapping[str, pulumi.Output[str]],
    environments: Mapping[str, pulumi.Output[str]],
) -> ml.BatchDeployment:
    owner = _code_owner(spec, deployment)
    code = host.code.reuse(*owner) if isinstance(host.code, CodeShelf) else host.code(*owner)
    model = deployment.model
    model_version: pulumi.Input[str] = model.version or models[model.name]
    env = deployment.environment
    env_version: pulumi.Input[str] = environments.get(env.name, env.version)
    ws = host.workspace_id
    return ml.BatchDeployment(
        f"{host.prefix}-batch-deployment-{spec.name}-{deployment.name}",
        deployment_name=deployment.name,
        endpoint_name=spec.name,  # a plain name; depends_on orders it after the endpoint
        workspace_name=host.workspace_name,
        resource_group_name=host.resource_group_name,
        location=host.location,
        tags={**host.tags, **deployment.tags},
        properties=ml.BatchDeploymentPropertiesArgs(
            description=deployment.description or None,
            model=ml.IdAssetReferenceArgs(
                reference_type="Id",
                asset_id=pulumi.Output.concat(ws, f"/models/{model.name}/versions/", model_version),
            ),
            environment_id=pulumi.Output.concat(
                ws, f"/environments/{env.name}/versions/", env_version
            ),
            code_configuration=ml.CodeConfigurationArgs(
                code_id=code.id, scoring_script=deployment.scoring_script
            ),
            compute=pulumi.Output.concat(ws, f"/computes/{deployment.compute}"),
            resources=ml.DeploymentResourceConfigurationArgs(
                instance_count=deployment.instance_count
            ),
            mini_batch_size=deployment.mini_batch_size,
            max_concurrency_per_instance=deployment.max_concurrency_per_instance,
            output_action="AppendRow"
            if deployment.output_action == "append_row"
            else "SummaryOnly",
            output_file_name=deployment.output_file_name,
            error_threshold=deployment.error_threshold,
            retry_settings=ml.BatchRetrySettingsArgs(
                max_retries=deployment.max_retries, timeout=f"PT{deployment.timeout}S"
            ),
            environment_variables=deployment.environment_variables or None,
        ),
        opts=host.options(depends_on=[endpoint, code]),
    )
