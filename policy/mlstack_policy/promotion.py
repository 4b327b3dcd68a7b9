"""models-by-promotion: a production stack registers models only by promotion.

A promoted model (``PromotedModel``) is pinned by digest to a version that passed review in
another stack; a ``ModelVersion`` registers whatever a training folder on the deployer's
machine holds, and an azure-native model version bypasses mlstack altogether.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlstack_policy.resource import ML, MODEL_VERSION, Resource
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

NATIVE_MODEL_VERSIONS = frozenset({f"{ML}ModelVersion", f"{ML}RegistryModelVersion"})


def check(resource: Resource, settings: Settings) -> Iterator[str]:
    target = settings.stack or "<this stack>"
    if resource.type == MODEL_VERSION:
        name = resource.get("name") or resource.name
        source = resource.get("source") or "a training folder"
        yield (
            f"{resource.label} registers model {name!r} straight from {source}; this stack "
            "takes models only by promotion. Fix: promote a reviewed version — `mlstack "
            f"promote {name} --from <stack> --to {target}` — and set `mlstack:modelSource: "
            "promotion` so the folder is never registered here."
        )
    elif resource.type in NATIVE_MODEL_VERSIONS:
        yield (
            f"{resource.label} registers a model version directly with azure-native, with no "
            "digest pin and no review of where it came from. Fix: declare the model in "
            f"assets/models/ and promote a version into {target} with `mlstack promote`."
        )


RULE = Rule(
    "models-by-promotion",
    "A production stack registers models only by promotion (a PromotedModel pinned by "
    "digest), never from a training folder.",
    check,
    prod_only=True,
)
