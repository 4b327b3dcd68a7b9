"""required-tags: everything that takes tags carries the tags the stack requires.

Checked on Azure resources that take tags (the types below, and any other azure-native
resource declared with ``tags``) and on a local stack's workspace. Asset versions (data,
models) carry their own tags from their YAML and are not checked. A tag with an empty
value counts as missing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mlstack_policy.resource import (
    BATCH_DEPLOYMENT,
    BATCH_ENDPOINT,
    COMPUTE,
    KEY_VAULT,
    LOCAL_WORKSPACE,
    ML_REGISTRY,
    ML_WORKSPACE,
    ONLINE_DEPLOYMENT,
    ONLINE_ENDPOINT,
    SERVERLESS_ENDPOINT,
    STORAGE_ACCOUNT,
    Resource,
)
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

TAGGABLE = frozenset({
    "azure-native:resources:ResourceGroup", STORAGE_ACCOUNT, KEY_VAULT,
    "azure-native:operationalinsights:Workspace", "azure-native:applicationinsights:Component",
    "azure-native:containerregistry:Registry", ML_WORKSPACE, ML_REGISTRY, COMPUTE,
    ONLINE_ENDPOINT, ONLINE_DEPLOYMENT, BATCH_ENDPOINT, BATCH_DEPLOYMENT, SERVERLESS_ENDPOINT,
    LOCAL_WORKSPACE,
})  # fmt: skip


def _taggable(resource: Resource) -> bool:
    if resource.type in TAGGABLE:
        return True
    return resource.type.startswith("azure-native:") and "tags" in resource.props


def check(resource: Resource, settings: Settings) -> Iterator[str]:
    if not settings.required_tags or not _taggable(resource):
        return
    tags = resource.get("tags")
    tags = tags if isinstance(tags, Mapping) else {}
    missing = [t for t in settings.required_tags if not str(tags.get(t) or "").strip()]
    if missing:
        several = len(missing) > 1
        yield (
            f"{resource.label} lacks the tag{'s' if several else ''} {', '.join(missing)} "
            f"(required: {', '.join(settings.required_tags)}). Fix: add "
            f"{'them' if several else 'it'} under `mlstack:tags` in the stack file; the "
            "program puts the stack's tags on everything that takes tags."
        )


RULE = Rule(
    "required-tags",
    "Resources that take tags carry the tags the stack requires (e.g. owner, cost-center).",
    check,
)
