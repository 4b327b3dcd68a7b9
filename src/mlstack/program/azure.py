"""The ``azure`` target: the estate (or an attached workspace), assets, managed endpoints.

In ``create`` mode the azure-native estate comes first and every asset resource waits for
the workspace, its datastore and the deployer's write access to it; in ``attach`` mode
the workspace exists and the stack declares no azure-native resource for it. Either way
the asset resources are the local target's, and a deployment serves the model and
environment versions those resources registered — or, for a model promoted ``via:
registry``, the version in the Azure ML registry (no copy into this workspace).
"""

from __future__ import annotations

import pulumi

from mlstack.components.azure_attached import attached_host
from mlstack.components.azure_compute import declare_compute
from mlstack.components.azure_endpoints import EndpointHost, declare_endpoints
from mlstack.components.azure_platform import AzurePlatform
from mlstack.config.naming import stack_file
from mlstack.config.stack import StackConfig
from mlstack.program.assets import Plan, Specs, declare_assets, export_assets


def build_azure(config: StackConfig, specs: Specs, planned: Plan) -> None:
    """Declare the estate or attach to it, then the assets and endpoints on it."""
    settings = config.azure
    if settings is None:  # StackConfig requires it for the azure target
        raise AssertionError("an azure stack's config without azure settings")
    for notice in settings.notices:
        pulumi.log.warn(f"{stack_file(config.stack)}: {notice}")
    host: EndpointHost | None
    if settings.mode == "create":
        platform = AzurePlatform("platform", settings, config)
        declare_compute(platform, specs.compute)
        opts = pulumi.ResourceOptions(parent=platform, depends_on=platform.asset_dependencies)
        host = platform.host()
        pulumi.export("workspace_id", platform.workspace.id)
    else:
        opts = pulumi.ResourceOptions()
        # Endpoints are the only azure-native resources an attached stack may declare.
        tags = {"mlstack-stack": config.stack, **config.tags}
        host = attached_host(settings, tags) if specs.endpoints else None
        pulumi.export("workspace_id", settings.locator.workspace_id)
    assets = declare_assets(planned, opts)
    models = {name: model.version for name, model in assets.models.items()}
    environments = {name: env.version for name, env in assets.environments.items()}
    if host is not None:
        declare_endpoints(host, specs.endpoints, models, environments, config.registry_models)
    export_assets(config, assets)
    if config.registry_models:  # served from the Azure ML registry, not from this workspace
        pulumi.export("registry_models", config.registry_models)
    pulumi.export("workspace", settings.workspace_name)
    pulumi.export("datastore", settings.datastore)
    pulumi.export("datastore_uri", f"azureml://datastores/{settings.datastore}")
