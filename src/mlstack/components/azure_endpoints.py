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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult
from pulumi_azure_native import machinelearningservices

from mlstack.config.azure import AzureSettings
from mlstack.config.endpoints import DeploymentSpec, EndpointSpec

_AUTH_MODES = {"key": "Key", "aml_token": "AMLToken"}

CodeFactory = Callable[[EndpointSpec, DeploymentSpec], machinelearningservices.CodeVersion]


@dataclass(frozen=True)
class EndpointHost:
    """The workspace endpoints are declared in: created by the stack, or attached."""

    prefix: str
    settings: AzureSettings
    tags: Mapping[str, str]
    workspace_name: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    code: CodeFactory
    """The scoring code of a deployment as a code version (content-addressed)."""
    parent: pulumi.Resource | None = None
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)

    def options(self, **extra: Any) -> pulumi.ResourceOptions:
        """Parented to the platform (if any), after the workspace and ``depends_on``."""
        after = [*self.depends_on, *extra.pop("depends_on", [])]
        return pulumi.ResourceOptions(parent=self.parent, depends_on=after, **extra)


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


def held_back(noun: str, name: str, served: Sequence[str], registered: Mapping[str, Any]) -> bool:
    """Whether an endpoint waits (with a warning) for a model this stack has not registered
    yet: deploying it now would fail on Azure, and the next ``pulumi up`` deploys it."""
    missing = [model for model in served if model not in registered]
    if missing:
        pulumi.log.warn(
            f"{noun} {name}: model {missing[0]} is not registered in this stack yet, so the "
            "endpoint is not deployed"
        )
    return bool(missing)


def declare_endpoints(
    platform: EndpointHost,
    specs: Sequence[EndpointSpec],
    models: Mapping[str, pulumi.Output[str]],
    environments: Mapping[str, pulumi.Output[str]],
    registry_models: Mapping[str, str] | None = None,
) -> dict[str, machinelearningservices.OnlineEndpoint]:
    """Each endpoint with its deployments and, last, its traffic.

    ``models`` and ``environments`` map names to the versions this stack registered, so a
    deployment serves what the stack registers (a new model version rolls it); an
    endpoint whose model this stack has not registered yet is held back with a warning.
    ``registry_models`` maps names of models promoted ``via: registry`` to their registry
    URI (``azureml://registries/<r>/models/<name>/versions/<v>``): served from there, never
    copied into this workspace.
    """
    registry_models = registry_models or {}
    declared = {}
    for spec in specs:
        if held_back("endpoint", spec.name, [d.model.name for d in spec.deployments],
                     {**models, **registry_models}):  # fmt: skip
            continue
        endpoint = machinelearningservices.OnlineEndpoint(
            f"{platform.prefix}-endpoint-{spec.name}",
            endpoint_name=spec.name,
            workspace_name=platform.workspace_name,
            resource_group_name=platform.resource_group_name,
            location=platform.location,
            kind="Managed",
            identity={"type": "SystemAssigned"},
            tags={**platform.tags, **spec.tags},
            properties={
                "auth_mode": _AUTH_MODES[spec.auth_mode],
                "description": spec.description or None,
                "public_network_access": platform.settings.public_network_access,
            },
            # Traffic belongs to the EndpointTraffic step below, not to this resource.
            opts=platform.options(ignore_changes=["properties.traffic"]),
        )
        deployments = [
            _deployment(
                platform,
                endpoint,
                spec,
                deployment,
                model=_model_id(platform, deployment.model.name, models, registry_models),
                environments=environments,
            )
            for deployment in spec.deployments
        ]
        if spec.traffic:
            EndpointTraffic(
                f"{platform.prefix}-traffic-{spec.name}",
                {
                    "subscription": platform.settings.subscription_id,
                    "resource_group": platform.resource_group_name,
                    "workspace": platform.workspace_name,
                    "endpoint": endpoint.name,
                    "traffic": dict(sorted(spec.traffic.items())),
                },
                pulumi.ResourceOptions(parent=platform.parent, depends_on=[endpoint, *deployments]),
            )
        declared[spec.name] = endpoint
    return declared


def _deployment(
    platform: EndpointHost,
    endpoint: machinelearningservices.OnlineEndpoint,
    spec: EndpointSpec,
    deployment: DeploymentSpec,
    *,
    model: pulumi.Input[str],
    environments: Mapping[str, pulumi.Output[str]],
) -> machinelearningservices.OnlineDeployment:
    code = platform.code(spec, deployment)
    env = deployment.environment
    env_version: pulumi.Input[str] = environments.get(env.name, env.version)
    ws = platform.workspace_id
    return machinelearningservices.OnlineDeployment(
        f"{platform.prefix}-deployment-{spec.name}-{deployment.name}",
        deployment_name=deployment.name,
        endpoint_name=endpoint.name,
        workspace_name=platform.workspace_name,
        resource_group_name=platform.resource_group_name,
        location=platform.location,
        kind="Managed",
        sku={"name": "Default", "capacity": deployment.instance_count},
        tags={**platform.tags, **deployment.tags},
        # Args classes, not dicts: ``properties`` is a union (Managed | Kubernetes), and
        # only a typed value gets its keys translated to ARM's camelCase.
        properties=machinelearningservices.ManagedOnlineDeploymentArgs(
            endpoint_compute_type="Managed",
            description=deployment.description or None,
            instance_type=deployment.instance_type,
            model=model,
            environment_id=pulumi.Output.concat(
                ws, f"/environments/{env.name}/versions/", env_version
            ),
            code_configuration=machinelearningservices.CodeConfigurationArgs(
                code_id=code.id, scoring_script=deployment.scoring_script
            ),
            environment_variables=deployment.environment_variables or None,
            scale_settings=machinelearningservices.DefaultScaleSettingsArgs(scale_type="Default"),
            app_insights_enabled=True,
        ),
        opts=platform.options(depends_on=[endpoint, code]),
    )


def _model_id(
    platform: EndpointHost,
    name: str,
    models: Mapping[str, pulumi.Output[str]],
    registry_models: Mapping[str, str],
) -> pulumi.Input[str]:
    """The model version a deployment serves: the registry URI of a model promoted through
    the registry, else the version this workspace registered (by its ARM id)."""
    if name in registry_models:
        return registry_models[name]
    return pulumi.Output.concat(platform.workspace_id, f"/models/{name}/versions/", models[name])


def code_version(
    platform: EndpointHost,
    spec: EndpointSpec,
    deployment: DeploymentSpec,
    *,
    digest: str,
    uri: pulumi.Input[str],
    after: Sequence[pulumi.Resource],
) -> machinelearningservices.CodeVersion:
    """An anonymous code version named by the code folder's digest (as azure-ai-ml names
    its uploads) whose blobs, under ``code/<digest>/``, ``after`` put in place."""
    hexd = digest.removeprefix("sha256:")
    return machinelearningservices.CodeVersion(
        f"{platform.prefix}-code-{spec.name}-{deployment.name}",
        name=f"code-{hexd[:32]}",
        version="1",
        workspace_name=platform.workspace_name,
        resource_group_name=platform.resource_group_name,
        properties={
            "code_uri": uri,
            "is_anonymous": True,
            "description": f"scoring code of {spec.name}/{deployment.name}",
            "properties": {"mlstack.digest": digest},
        },
        opts=platform.options(depends_on=list(after)),
    )
