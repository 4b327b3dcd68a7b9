"""The ``azure`` target: the estate (or an attached workspace), assets, managed online
and batch endpoints.

In ``create`` mode the azure-native estate comes first and every asset resource waits for
the workspace, its datastore and the deployer's write access to it; in ``attach`` mode
the workspace exists and the stack declares no azure-native resource for it. Either way
the asset resources are the local target's, and a deployment serves the model and
environment versions those resources registered — or, for a model promoted ``via:
registry``, the version in the Azure ML registry (no copy into this workspace).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pulumi

from mlstack.components.azure_attached import attached_host
from mlstack.components.azure_batch import CodeShelf, declare_batch_endpoints
from mlstack.components.azure_compute import declare_compute
from mlstack.components.azure_endpoints import EndpointHost, declare_endpoints
from mlstack.components.azure_platform import AzurePlatform
from mlstack.components.azure_source_access import SourceAccount, grant_source_access
from mlstack.config.naming import stack_file
from mlstack.config.stack import StackConfig
from mlstack.errors import ConfigError, MlstackError, Problem
from mlstack.program.assets import Plan, Specs, declare_assets, export_assets
from mlstack.project import Project
from mlstack.promotion.registry import registry_digest
from mlstack.stack import Stack

RegistryReader = Callable[[str, str, str], "str | None"]
"""(registry, model, version) → the digest the registry holds, None if it has no such
version (:func:`mlstack.promotion.registry.registry_digest`; tests pass their own)."""


def source_accounts(config: StackConfig, project: Project) -> list[SourceAccount]:
    """The storage accounts of the create-mode azure stacks this stack promotes from, when
    they are not this stack's own (a copy within one account needs no other role)."""
    own = config.azure.storage_account if config.azure else ""
    pins = [*config.promotions.models.values(), *config.promotions.data.values()]
    found = []
    for name in sorted({pin.source for pin in pins if pin.via != "registry"}):
        source = Stack(project, name).config.azure
        if source is not None and source.mode == "create" and source.storage_account != own:
            found.append(SourceAccount.of(name, source))
    return found


def build_azure(
    config: StackConfig, project: Project, specs: Specs, planned: Plan,
    registry: RegistryReader | None = None,
) -> None:  # fmt: skip
    """Declare the estate or attach to it, then the assets and endpoints on it."""
    settings = config.azure
    if settings is None:  # StackConfig requires it for the azure target
        raise AssertionError("an azure stack's config without azure settings")
    if config.registry_models:
        problems = registry_pin_problems(config, registry or registry_digest)
        if problems:
            raise ConfigError(problems)
    batch = specs.batch
    for notice in settings.notices:
        pulumi.log.warn(f"{stack_file(config.stack)}: {notice}")
    host: EndpointHost | None
    if settings.mode == "create":
        platform = AzurePlatform("platform", settings, config)
        declare_compute(platform, specs.compute)
        sources = source_accounts(config, project)
        granted = grant_source_access("platform", platform.deployer_id, sources, platform)
        opts = pulumi.ResourceOptions(
            parent=platform, depends_on=[*platform.asset_dependencies, *granted]
        )
        host = platform.host()
        pulumi.export("workspace_id", platform.workspace.id)
    else:
        opts = pulumi.ResourceOptions()
        # Endpoints (online and batch) are the only azure-native resources an attached stack
        # may declare.
        tags = {"mlstack-stack": config.stack, **config.tags}
        host = attached_host(settings, tags) if specs.endpoints or batch else None
        pulumi.export("workspace_id", settings.locator.workspace_id)
    assets = declare_assets(planned, opts)
    models = {name: model.version for name, model in assets.models.items()}
    environments = {name: env.version for name, env in assets.environments.items()}
    if host is not None:
        host = replace(host, code=CodeShelf(host.code))  # one code version per folder
        declare_endpoints(host, specs.endpoints, models, environments, config.registry_models)
        declare_batch_endpoints(host, batch, models, environments)
    export_assets(config, assets)
    if config.registry_models:  # served from the Azure ML registry, not from this workspace
        pulumi.export("registry_models", config.registry_models)
    pulumi.export("workspace", settings.workspace_name)
    pulumi.export("datastore", settings.datastore)
    pulumi.export("datastore_uri", f"azureml://datastores/{settings.datastore}")


def registry_pin_problems(config: StackConfig, read: RegistryReader) -> list[Problem]:
    """Each ``via: registry`` pin, checked against the registry before anything is declared:
    the version is there and holds the pinned digest (an edited pin, or a registry version
    that is not what was promoted, fails the preview and changes nothing)."""
    problems = []
    for name, pin in sorted(config.promotions.models.items()):
        if pin.via != "registry":
            continue
        field = f"mlstack:promotions.models.{name}"
        again = f"`mlstack promote {name} --from {pin.source} --to {config.stack} --via registry`"
        try:
            held = read(pin.registry, name, pin.version)
        except MlstackError as error:
            problems.append(Problem(stack_file(config.stack), field, f"{error}"))
            continue
        if held is None:
            reason = (f"model {name}:{pin.version} is not in the Azure ML registry "
                      f"{pin.registry!r}: share it with {again}")  # fmt: skip
        elif held != pin.digest:
            reason = (
                f"digest mismatch: the Azure ML registry {pin.registry!r} holds "
                f"{name}:{pin.version} with digest {held or '(none)'}, the pin says "
                f"{pin.digest} (an edited pin, or a registry version that is not what was "
                f"promoted): not deployed; promote again with {again}"
            )
        else:
            continue
        problems.append(Problem(stack_file(config.stack), field, reason))
    return problems
