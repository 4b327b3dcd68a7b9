"""instance-types: compute and deployments use VM sizes from the stack's allow-list.

Read from compute (``properties.properties.vmSize``: clusters, instances, VMs), online
deployments (``properties.instanceType``) and batch deployments
(``properties.resources.instanceType``); compared case-insensitively, as Azure does, with
``mlstack:policySettings.instanceTypes``.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlstack_policy.resource import BATCH_DEPLOYMENT, COMPUTE, ONLINE_DEPLOYMENT, Resource
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

WHERE = {
    COMPUTE: (("properties", "properties", "vmSize"), "`size` in assets/compute/"),
    ONLINE_DEPLOYMENT: (("properties", "instanceType"), "`instance_type` in assets/endpoints/"),
    BATCH_DEPLOYMENT: (
        ("properties", "resources", "instanceType"), "`instance_type` in the deployment YAML"
    ),
}  # fmt: skip


def check(resource: Resource, settings: Settings) -> Iterator[str]:
    where = WHERE.get(resource.type)
    if where is None:
        return
    path, spec = where
    size = resource.get(*path)
    if size is None:
        return  # Azure picks the default for the compute type; nothing was chosen here
    allowed = settings.instance_types
    if isinstance(size, str) and size.casefold() in {a.casefold() for a in allowed}:
        return
    yield (
        f"{resource.label} uses instance type {size!r}, which is not in this stack's "
        f"allow-list ({', '.join(allowed)}). Fix: choose one of them for {spec}, or add the "
        "type to `instanceTypes` under `mlstack:policySettings` through review."
    )


RULE = Rule(
    "instance-types",
    "Compute and deployments use instance types from the stack's allow-list.",
    check,
)
