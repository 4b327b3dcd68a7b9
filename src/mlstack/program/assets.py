"""What both targets declare alike: specs, planning against the workspace, asset resources.

Every spec is loaded and every folder planned before anything is declared, so all
problems are reported together. The asset resources (data, environments, models,
promotions) are the same on ``local`` and ``azure``; only what they depend on differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi

from mlstack.config.assets import DataSpec, load_data_specs
from mlstack.config.batch import BatchEndpointSpec, load_batch_specs
from mlstack.config.components import ComponentSpec, load_component_specs
from mlstack.config.compute import ComputeSpec, load_compute_specs
from mlstack.config.endpoints import EndpointSpec, load_endpoint_specs
from mlstack.config.environments import EnvironmentSpec, load_environment_specs
from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.config.models import ModelSpec, load_model_specs
from mlstack.config.resources import (
    ComponentInputs,
    DataInputs,
    EnvironmentInputs,
    ModelInputs,
    PromotedDataInputs,
    PromotedModelInputs,
)
from mlstack.config.stack import StackConfig
from mlstack.content.hashcache import SqliteHashCache
from mlstack.errors import ConfigError, Problem
from mlstack.plan import (
    PlanContext,
    Planned,
    plan_components,
    plan_data,
    plan_endpoints,
    plan_environments,
    plan_models,
)
from mlstack.project import Project
from mlstack.providers.component import ComponentVersion
from mlstack.providers.data_asset import DataAsset
from mlstack.providers.environment import EnvironmentVersion
from mlstack.providers.model_version import ModelVersion
from mlstack.providers.promoted import PromotedData, PromotedModel
from mlstack.workspace import EmptyWorkspace, Workspace

Opener = Callable[[LocalLocator | AzureLocator, Project], Workspace]


@dataclass(frozen=True)
class Specs:
    """Every declaration under ``assets/``, validated together."""

    data: tuple[DataSpec, ...]
    environments: tuple[EnvironmentSpec, ...]
    models: tuple[ModelSpec, ...]
    endpoints: tuple[EndpointSpec, ...]
    compute: tuple[ComputeSpec, ...]
    components: tuple[ComponentSpec, ...] = ()
    batch: tuple[BatchEndpointSpec, ...] = ()
    """Batch endpoints: declared on Azure, run by ``mlstack batch invoke`` locally."""


@dataclass(frozen=True)
class Plan:
    data: list[Planned]
    environments: list[Planned]
    models: list[Planned]
    endpoints: list[Planned]
    components: list[Planned]


def load_specs(config: StackConfig, project: Project) -> Specs:
    """Every asset spec (compute on Azure), with the problems of all kinds reported together."""
    problems: list[Problem] = []
    loaded: list[tuple[Any, ...]] = []
    loaders: list[Callable[[Any], tuple[Any, ...]]] = [
        load_data_specs, load_environment_specs, load_model_specs, load_endpoint_specs,
        load_component_specs,
        # Checked on both targets: a broken batch file fails the preview, not an invoke.
        load_batch_specs,
    ]  # fmt: skip
    if config.target == "azure":
        loaders.append(load_compute_specs)
    for load in loaders:
        try:
            loaded.append(tuple(load(project.root)))
        except ConfigError as error:
            problems += error.problems
            loaded.append(())
    if problems:
        raise ConfigError(problems)
    compute = loaded[6] if len(loaded) > 6 else ()
    return Specs(loaded[0], loaded[1], loaded[2], loaded[3], compute, components=loaded[4],
                 batch=loaded[5])  # fmt: skip


def planning_workspace(config: StackConfig, project: Project, opener: Opener) -> Workspace:
    """The stack's workspace, or an empty one (with a notice) before it is created."""
    ws = opener(config.locator, project)
    if ws.exists():
        return ws
    where = config.locator.describe()
    pulumi.log.info(f"{where} does not exist yet: planning against an empty workspace")
    return EmptyWorkspace(ws, where)


def plan(config: StackConfig, project: Project, specs: Specs, ws: Workspace) -> Plan:
    """What to declare for every asset, or all the reasons it cannot be declared."""
    with SqliteHashCache.in_home(project.home) as cache:
        ctx = PlanContext(config, project, ws, cache, [])
        data = plan_data(ctx, specs.data)
        models = plan_models(ctx, specs.models)
        endpoints = plan_endpoints(ctx, specs.endpoints, models) if config.target == "local" else []
        environments = plan_environments(ctx, specs.environments)
        components = plan_components(ctx, specs.components)
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return Plan(data, environments, models, endpoints, components)


@dataclass(frozen=True)
class Assets:
    data: dict[str, DataAsset | PromotedData]
    environments: dict[str, EnvironmentVersion]
    models: dict[str, ModelVersion | PromotedModel]
    components: dict[str, ComponentVersion]


def declare_assets(planned: Plan, opts: pulumi.ResourceOptions) -> Assets:
    """The same asset resources on every target; notes (held-back models) as warnings,
    notices (a rollback) attached to their resource."""
    data: dict[str, DataAsset | PromotedData] = {}
    for item in planned.data:
        if isinstance(item.inputs, PromotedDataInputs):
            data[item.name] = PromotedData(f"data-{item.name}", item.inputs, opts)
        elif isinstance(item.inputs, DataInputs):
            data[item.name] = DataAsset(f"data-{item.name}", item.inputs, opts)
    envs = {
        p.name: EnvironmentVersion(f"env-{p.name}", p.inputs, opts)
        for p in planned.environments
        if isinstance(p.inputs, EnvironmentInputs)
    }
    models: dict[str, ModelVersion | PromotedModel] = {}
    for item in planned.models:
        if item.note:
            pulumi.log.warn(item.note)
        if isinstance(item.inputs, PromotedModelInputs):
            models[item.name] = PromotedModel(f"model-{item.name}", item.inputs, opts)
        elif isinstance(item.inputs, ModelInputs):
            models[item.name] = ModelVersion(f"model-{item.name}", item.inputs, opts)
        if item.info and item.name in models:
            pulumi.log.info(item.info, resource=models[item.name])
    # After the environments: Azure ML resolves a component's `environment:` when it is
    # registered, so the version it names must exist by then.
    after_envs = pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(depends_on=[*envs.values()])
    )
    components = {
        p.name: ComponentVersion(f"component-{p.name}", p.inputs, after_envs)
        for p in planned.components
        if isinstance(p.inputs, ComponentInputs)
    }
    return Assets(data, envs, models, components)


def export_assets(config: StackConfig, assets: Assets) -> None:
    """The outputs both targets share: where assets live and the versions registered."""
    pulumi.export("target", config.target)
    pulumi.export(
        "data",
        {n: {"version": a.version, "uri": a.uri, "digest": a.digest, "files": a.files}
         for n, a in assets.data.items()},
    )  # fmt: skip
    pulumi.export("environments", {n: e.reference for n, e in assets.environments.items()})
    if assets.components:  # no new output for stacks that declare none
        pulumi.export("components", {n: c.reference for n, c in assets.components.items()})
    pulumi.export(
        "models",
        {n: {"version": m.version, "uri": m.uri, "digest": m.digest, "metrics": m.metrics_change}
         for n, m in assets.models.items()},
    )  # fmt: skip
