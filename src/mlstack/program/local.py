"""The ``local`` target: a workspace record and Azurite container, assets, local endpoints."""

from __future__ import annotations

import pulumi

from mlstack.components.local_platform import LocalPlatform
from mlstack.config.resources import EndpointInputs
from mlstack.config.stack import StackConfig
from mlstack.program.assets import Assets, Plan, declare_assets, export_assets
from mlstack.providers.endpoint import LocalEndpoint


def _declare_endpoints(
    planned: Plan, assets: Assets, opts: pulumi.ResourceOptions
) -> dict[str, LocalEndpoint]:
    """Each endpoint after the model versions its deployments serve."""
    endpoints: dict[str, LocalEndpoint] = {}
    for item in planned.endpoints:
        if item.note:
            pulumi.log.warn(item.note)
        if not isinstance(item.inputs, EndpointInputs):
            continue
        deployments = item.inputs.deployments
        served = [assets.models[d.model] for d in deployments.values()]
        versions = {dep: assets.models[d.model].version for dep, d in deployments.items()}
        endpoint_opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=served)
        )
        endpoints[item.name] = LocalEndpoint(
            f"endpoint-{item.name}", item.inputs, versions, endpoint_opts
        )
    return endpoints


def build_local(config: StackConfig, planned: Plan) -> None:
    """Declare the local platform, the assets under it and the endpoints serving them."""
    platform = LocalPlatform("platform", config)
    workspace = platform.workspace
    opts = pulumi.ResourceOptions(parent=platform, depends_on=[workspace])
    assets = declare_assets(planned, opts)
    endpoints = _declare_endpoints(planned, assets, opts)
    export_assets(config, assets)
    pulumi.export("workspace", workspace.name)
    pulumi.export("datastore", workspace.datastore)
    pulumi.export("datastore_uri", workspace.datastore_uri)
    pulumi.export("container", workspace.container)
    pulumi.export("catalog", workspace.catalog)
    pulumi.export(
        "endpoints",
        {n: {"scoring_uri": e.scoring_uri, "traffic": e.traffic, "primary_key": e.primary_key,
             "secondary_key": e.secondary_key} for n, e in endpoints.items()},
    )  # fmt: skip
