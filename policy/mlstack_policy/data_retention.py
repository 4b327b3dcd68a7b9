"""data-versions-archive-only: data versions are archived, never deleted.

mlstack declares data with its ``DataAsset`` resource, whose delete archives every version
it registered (content stays in the datastore). An azure-native ``DataVersion`` (or data
container, in a workspace or a registry) deletes the version — or all of them — when the
resource is deleted or replaced, so it is refused wherever it appears.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlstack_policy.resource import ML, Resource
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

DELETING = frozenset(
    f"{ML}{kind}"
    for kind in ("DataVersion", "DataContainer", "RegistryDataVersion", "RegistryDataContainer")
)


def check(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type in DELETING:
        yield (
            f"{resource.label} is an azure-native data resource: deleting or replacing it "
            "deletes data versions, which must only ever be archived. Fix: declare the data in "
            "assets/data/<name>.yaml — mlstack's DataAsset archives on delete — and remove "
            "this resource (`pulumi state delete` first, to keep the versions it made)."
        )


RULE = Rule(
    "data-versions-archive-only",
    "Data asset versions are archived, never deleted: no azure-native data version resources.",
    check,
)
