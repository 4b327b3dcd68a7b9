"""The Pulumi program: read and validate everything, then declare the stack.

All input — stack config, asset specs, data folders, model artefacts — is checked first;
invalid input stops the run with every problem listed and nothing declared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG

from mlstack.components.azure_platform import build_azure
from mlstack.components.local_platform import LocalPlatform
from mlstack.config.assets import load_data_specs
from mlstack.config.compute import load_compute_specs
from mlstack.config.endpoints import load_endpoint_specs
from mlstack.config.environments import load_environment_specs
from mlstack.config.models import load_model_specs
from mlstack.config.stack import NAMESPACE, StackConfig, load_stack_config
from mlstack.content.hashcache import SqliteHashCache
from mlstack.errors import ConfigError, MlstackError, Problem
from mlstack.plan import (
    PlanContext,
    Planned,
    plan_data,
    plan_endpoints,
    plan_environments,
    plan_models,
)
from mlstack.project import Project
from mlstack.providers.data_asset import DataAsset
from mlstack.providers.endpoint import LocalEndpoint
from mlstack.providers.environment import EnvironmentVersion
from mlstack.providers.model_version import ModelVersion
from mlstack.providers.promoted import PromotedData, PromotedModel
from mlstack.workspace.local import LocalWorkspace


def _namespace_values() -> dict[str, Any]:
    """All ``mlstack:*`` keys of the stack, with structured values decoded."""
    values: dict[str, Any] = {}
    for key, raw in CONFIG.get().items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue
        values[name] = json.loads(raw) if raw.startswith(("{", "[")) else raw
    return values


def _specs(root: Path) -> tuple[Any, Any, Any, Any]:
    """Every asset spec, with the problems of all kinds reported together."""
    problems: list[Problem] = []
    loaded = []
    for load in (load_data_specs, load_environment_specs, load_model_specs, load_endpoint_specs):
        try:
            loaded.append(load(root))
        except ConfigError as error:
            problems += error.problems
            loaded.append(())
    if problems:
        raise ConfigError(problems)
    return loaded[0], loaded[1], loaded[2], loaded[3]


def plan(config: StackConfig, project: Project) -> tuple[list[Planned], ...]:
    """What to declare for every asset, or all the reasons it cannot be declared."""
    home = project.home
    data_specs, env_specs, model_specs, endpoint_specs = _specs(project.root)
    ws = LocalWorkspace.at(home, config.stack, config.datastore_container)
    with SqliteHashCache.in_home(home) as cache:
        ctx = PlanContext(config, home, ws, cache, [])
        data = plan_data(ctx, data_specs)
        models = plan_models(ctx, model_specs)
        endpoints = plan_endpoints(ctx, endpoint_specs, models)
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return data, plan_environments(ctx, env_specs), models, endpoints


def _export_endpoints(endpoints: dict[str, LocalEndpoint]) -> None:
    pulumi.export(
        "endpoints",
        {n: {"scoring_uri": e.scoring_uri, "traffic": e.traffic, "primary_key": e.primary_key,
             "secondary_key": e.secondary_key} for n, e in endpoints.items()},
    )  # fmt: skip


def build_azure_target(config: StackConfig, project: Project) -> None:
    """The azure target: the estate with pulumi-azure-native, every problem reported first."""
    problems: list[Problem] = []
    loaded: list[Any] = []
    steps = (
        lambda: config.azure,  # validated with the rest of the stack's config
        lambda: load_compute_specs(project.root),
        lambda: load_endpoint_specs(project.root),
        lambda: _specs(project.root)[1],
    )
    for step in steps:
        try:
            loaded.append(step())
        except ConfigError as error:
            problems += error.problems
    if problems:
        raise ConfigError(problems)
    settings, compute, endpoints, environments = loaded
    platform = build_azure(
        settings, config, compute=compute, endpoints=endpoints, environments=environments
    )
    pulumi.export("target", config.target)
    pulumi.export("workspace", platform.workspace.name)
    pulumi.export("workspace_id", platform.workspace.id)
    pulumi.export("datastore", platform.datastore.name)


def build(config: StackConfig, project: Project) -> None:
    """Declare the stack's resources and outputs; all input is validated first."""
    if config.target == "azure":
        build_azure_target(config, project)
        return
    data_plan, env_plan, model_plan, endpoint_plan = plan(config, project)

    platform = LocalPlatform("platform", config, project.home)
    workspace = platform.workspace
    opts = pulumi.ResourceOptions(parent=platform, depends_on=[workspace])
    data: dict[str, Any] = {}
    for planned in data_plan:
        if planned.props:
            data_kind = PromotedData if planned.promoted else DataAsset
            data[planned.name] = data_kind(f"data-{planned.name}", planned.props, opts)
    envs = {p.name: EnvironmentVersion(f"env-{p.name}", p.props, opts) for p in env_plan if p.props}
    models: dict[str, Any] = {}
    for planned in model_plan:
        if planned.note:
            pulumi.log.warn(planned.note)
        if planned.props:
            model_kind = PromotedModel if planned.promoted else ModelVersion
            models[planned.name] = model_kind(f"model-{planned.name}", planned.props, opts)

    endpoints: dict[str, LocalEndpoint] = {}
    for planned in endpoint_plan:
        if planned.note:
            pulumi.log.warn(planned.note)
        if planned.props:
            served = [models[d["model"]] for d in planned.props["deployments"].values()]
            props = {**planned.props, "deployments": {
                dep: {**spec, "model_version": models[spec["model"]].version}
                for dep, spec in planned.props["deployments"].items()
            }}  # fmt: skip
            endpoint_opts = pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=served)
            )
            endpoints[planned.name] = LocalEndpoint(
                f"endpoint-{planned.name}", props, endpoint_opts
            )

    pulumi.export("target", config.target)
    pulumi.export("workspace", workspace.name)
    pulumi.export("datastore", workspace.datastore)
    pulumi.export("datastore_uri", workspace.datastore_uri)
    pulumi.export("container", workspace.container)
    pulumi.export("catalog", workspace.catalog)
    pulumi.export(
        "data",
        {n: {"version": a.version, "uri": a.uri, "digest": a.digest, "files": a.files}
         for n, a in data.items()},
    )  # fmt: skip
    pulumi.export("environments", {n: e.reference for n, e in envs.items()})
    _export_endpoints(endpoints)
    pulumi.export(
        "models",
        {n: {"version": m.version, "uri": m.uri, "digest": m.digest, "metrics": m.metrics_change}
         for n, m in models.items()},
    )  # fmt: skip


def main() -> None:
    """Entry point run by the Pulumi language host (see ``__main__.py``)."""
    try:
        config = load_stack_config(pulumi.get_stack(), _namespace_values())
        build(config, Project.find())
    except MlstackError as error:
        # RunError is reported as a plain message: the user sees the problem, no traceback.
        raise pulumi.RunError(str(error)) from None
