"""Online endpoints inside an AzurePlatform: endpoint → code → deployments → traffic.

The service rejects traffic that names a deployment which does not exist yet, and a
deployment cannot exist before its endpoint. So the endpoint is created *without*
traffic (its ``properties.traffic`` is then ignored by the azure-native resource), each
deployment depends on the endpoint, and an ``EndpointTraffic`` step that depends on all
deployments sets the declared split last.

Scoring code is content-addressed: the code folder's manifest digest names an
anonymous code asset (as azure-ai-ml names its uploads), its files are uploaded as
blobs under ``code/<digest>/`` in the datastore container, and a changed file makes a
new code version, hence a new deployment revision; an unchanged one changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult
from pulumi_azure_native import machinelearningservices, storage

from mlstack.components.azure_compute import EnvironmentKey
from mlstack.config.endpoints import DeploymentSpec, EndpointSpec
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan

if TYPE_CHECKING:
    from mlstack.components.azure_platform import AzurePlatform

_AUTH_MODES = {"key": "Key", "aml_token": "AMLToken"}


class EndpointTrafficProvider(ResourceProvider):
    """Sets an endpoint's traffic split with azure-ai-ml, after its deployments exist.

    Thin by design: one GET and one PUT of the endpoint; nothing on delete (deleting
    the endpoint removes its traffic, and a kept endpoint keeps serving).
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        _apply_traffic(props)
        return CreateResult(id_=f"{props['endpoint']}/traffic", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("subscription", "resource_group", "workspace", "endpoint", "traffic")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _apply_traffic(news)
        return UpdateResult(outs=news)


def _apply_traffic(props: Mapping[str, Any]) -> None:
    """GET the endpoint, set ``traffic``, PUT it back (azure-ai-ml; imported lazily)."""
    from azure.ai.ml import MLClient  # noqa: PLC0415 - slow import, only on `pulumi up`
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415

    client = MLClient(
        DefaultAzureCredential(),
        props["subscription"],
        props["resource_group"],
        props["workspace"],
    )
    endpoint = client.online_endpoints.get(props["endpoint"])
    endpoint.traffic = {str(k): int(v) for k, v in props["traffic"].items()}
    client.online_endpoints.begin_create_or_update(endpoint).result()


class EndpointTraffic(pulumi.dynamic.Resource):
    """The declared traffic split of one endpoint, applied after its deployments."""

    def __init__(
        self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(EndpointTrafficProvider(), name, dict(props), opts)


def declare_endpoints(
    platform: AzurePlatform,
    specs: Sequence[EndpointSpec],
    environments: Mapping[EnvironmentKey, pulumi.Resource],
) -> dict[str, machinelearningservices.OnlineEndpoint]:
    """Each endpoint with its deployments and, last, its traffic."""
    declared = {}
    for spec in specs:
        endpoint = machinelearningservices.OnlineEndpoint(
            f"{platform.prefix}-endpoint-{spec.name}",
            endpoint_name=spec.name,
            workspace_name=platform.workspace.name,
            resource_group_name=platform.resource_group.name,
            location=platform.settings.location,
            kind="Managed",
            identity={"type": "SystemAssigned"},
            tags={**platform.tags, **spec.tags},
            properties={
                "auth_mode": _AUTH_MODES[spec.auth_mode],
                "description": spec.description or None,
                "public_network_access": platform.settings.public_network_access,
            },
            # Traffic belongs to the EndpointTraffic step below, not to this resource.
            opts=platform.child_options(ignore_changes=["properties.traffic"]),
        )
        deployments = [
            _deployment(platform, endpoint, spec, deployment, environments)
            for deployment in spec.deployments
        ]
        if spec.traffic:
            EndpointTraffic(
                f"{platform.prefix}-traffic-{spec.name}",
                {
                    "subscription": platform.settings.subscription_id,
                    "resource_group": platform.resource_group.name,
                    "workspace": platform.workspace.name,
                    "endpoint": endpoint.name,
                    "traffic": dict(sorted(spec.traffic.items())),
                },
                pulumi.ResourceOptions(parent=platform, depends_on=[endpoint, *deployments]),
            )
        declared[spec.name] = endpoint
    return declared


def _deployment(
    platform: AzurePlatform,
    endpoint: machinelearningservices.OnlineEndpoint,
    spec: EndpointSpec,
    deployment: DeploymentSpec,
    environments: Mapping[EnvironmentKey, pulumi.Resource],
) -> machinelearningservices.OnlineDeployment:
    code = _code_version(platform, spec, deployment)
    env_key = (deployment.environment.name, deployment.environment.version)
    after: list[pulumi.Resource] = [endpoint, code]
    if env_key in environments:
        after.append(environments[env_key])
    ws = platform.workspace.id
    return machinelearningservices.OnlineDeployment(
        f"{platform.prefix}-deployment-{spec.name}-{deployment.name}",
        deployment_name=deployment.name,
        endpoint_name=endpoint.name,
        workspace_name=platform.workspace.name,
        resource_group_name=platform.resource_group.name,
        location=platform.settings.location,
        kind="Managed",
        sku={"name": "Default", "capacity": deployment.instance_count},
        tags={**platform.tags, **deployment.tags},
        # Args classes, not dicts: ``properties`` is a union (Managed | Kubernetes), and
        # only a typed value gets its keys translated to ARM's camelCase.
        properties=machinelearningservices.ManagedOnlineDeploymentArgs(
            endpoint_compute_type="Managed",
            description=deployment.description or None,
            instance_type=deployment.instance_type,
            model=pulumi.Output.concat(
                ws, f"/models/{deployment.model.name}/versions/{deployment.model.version}"
            ),
            environment_id=pulumi.Output.concat(
                ws,
                f"/environments/{deployment.environment.name}"
                f"/versions/{deployment.environment.version}",
            ),
            code_configuration=machinelearningservices.CodeConfigurationArgs(
                code_id=code.id, scoring_script=deployment.scoring_script
            ),
            environment_variables=deployment.environment_variables or None,
            scale_settings=machinelearningservices.DefaultScaleSettingsArgs(scale_type="Default"),
            app_insights_enabled=True,
        ),
        opts=platform.child_options(depends_on=after),
    )


def _code_version(
    platform: AzurePlatform, spec: EndpointSpec, deployment: DeploymentSpec
) -> machinelearningservices.CodeVersion:
    """The code folder as blobs under ``code/<digest>/`` plus an anonymous code version."""
    manifest = scan(deployment.code, NoCache())
    digest = manifest.digest.removeprefix("sha256:")
    prefix = f"code/{digest}"
    label = f"{platform.prefix}-code-{spec.name}-{deployment.name}"
    blobs = [
        storage.Blob(
            f"{label}-{entry.path}",
            blob_name=f"{prefix}/{entry.path}",
            account_name=platform.storage_account.name,
            container_name=platform.container.name,
            resource_group_name=platform.resource_group.name,
            source=pulumi.FileAsset(str(deployment.code / entry.path)),
            content_type="text/plain",
            opts=pulumi.ResourceOptions(parent=platform),
        )
        for entry in manifest.entries
    ]
    uri = pulumi.Output.concat(
        platform.storage_account.primary_endpoints.blob, platform.container.name, f"/{prefix}"
    )
    return machinelearningservices.CodeVersion(
        label,
        name=f"code-{digest[:32]}",
        version="1",
        workspace_name=platform.workspace.name,
        resource_group_name=platform.resource_group.name,
        properties={
            "code_uri": uri,
            "is_anonymous": True,
            "description": f"scoring code of {spec.name}/{deployment.name}",
            "properties": {"mlstack.digest": manifest.digest},
        },
        opts=platform.child_options(depends_on=blobs),
    )
