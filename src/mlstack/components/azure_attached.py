"""An existing Azure ML workspace that a stack attaches to: no azure-native resource of its own.

A platform team often owns the workspace, its storage and its network; an ``attach`` stack
then declares only what it adds — asset versions and, if it declares any, online
endpoints. Endpoints need the workspace's region (from the stack's ``location``, else read
from the workspace) and their scoring code in the workspace's datastore, which goes up
through the workspace protocol (:class:`~mlstack.providers.code.CodeFolder`) because the
storage account is not the stack's to declare.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from pulumi_azure_native import machinelearningservices

from mlstack.components.azure_endpoints import EndpointHost, code_version
from mlstack.config.azure import AzureSettings
from mlstack.config.endpoints import DeploymentSpec, EndpointSpec
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.providers.code import CodeFolder

__all__ = ["attached_host"]

PREFIX = "platform"
"""Resource names as the created estate spells them, so a stack can switch modes."""


def _location(settings: AzureSettings) -> pulumi.Input[str]:
    if settings.location:
        return settings.location
    found = machinelearningservices.get_workspace_output(
        resource_group_name=settings.resource_group, workspace_name=settings.workspace_name
    )
    return found.location.apply(lambda loc: str(loc or ""))


def attached_host(settings: AzureSettings, tags: Mapping[str, str]) -> EndpointHost:
    """The attached workspace as endpoints are declared in it."""
    locator = settings.locator
    host: EndpointHost

    def code(spec: EndpointSpec, deployment: DeploymentSpec) -> machinelearningservices.CodeVersion:
        digest = scan(deployment.code, NoCache()).digest
        folder = CodeFolder(
            f"{PREFIX}-code-{spec.name}-{deployment.name}-files", locator, deployment.code, digest
        )
        return code_version(host, spec, deployment, digest=digest, uri=folder.uri, after=[folder])

    host = EndpointHost(
        prefix=PREFIX, settings=settings, tags=tags, workspace_name=settings.workspace_name,
        resource_group_name=settings.resource_group, location=_location(settings),
        workspace_id=locator.workspace_id, code=code,
    )  # fmt: skip
    return host
