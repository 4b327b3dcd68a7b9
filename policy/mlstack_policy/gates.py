"""model-gates: every registered model version passes the gates its model YAML declares.

Gates are model properties ``mlstack.<min|max>.<split>.<metric>: <number>``; the model
resource carries them as ``gates`` and the version's metrics as ``properties.metrics``
(``metrics.json``: ``{"<split>": {"<metric>": <number>}}``). Planning already holds back a
folder below its gate; this catches a kept or promoted version that a gate, raised since,
no longer admits. A missing or non-numeric metric fails, as a gate never passes on a value
it cannot compare.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlstack_policy.lineage import MODELS
from mlstack_policy.resource import Resource
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

GATE = re.compile(r"^mlstack\.(min|max)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$")


def failure(key: str, bound: Any, metrics: Any) -> str | None:
    """Why ``metrics`` fails gate ``key`` (e.g. ``mlstack.min.test.accuracy``), or None."""
    match = GATE.match(key)
    if match is None or isinstance(bound, bool) or not isinstance(bound, int | float):
        return f"gate {key}: {bound!r} is not a gate (mlstack.<min|max>.<split>.<metric>: <number>)"
    side, split, metric = match.groups()
    metrics = metrics if isinstance(metrics, Mapping) else {}
    values = metrics.get(split)
    found = values.get(metric) if isinstance(values, Mapping) else None
    if found is None:
        found = metrics.get(f"{split}.{metric}")
    name = f"{split}.{metric}"
    if found is None:
        return f"{name} is not in its metrics"
    if isinstance(found, bool) or not isinstance(found, int | float) or math.isnan(found):
        return f"{name} is {found!r}, not a number"
    if side == "min" and found < bound:
        return f"{name} {found:g} is below its gate {bound:g}"
    if side == "max" and found > bound:
        return f"{name} {found:g} is above its gate {bound:g}"
    return None


def check(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type not in MODELS:
        return
    gates = resource.get("gates")
    if not isinstance(gates, Mapping) or not gates:
        return
    metrics = resource.get("properties", "metrics")
    failed = [f for key in sorted(gates) if (f := failure(str(key), gates[key], metrics))]
    if failed:
        name = resource.get("name") or resource.name
        spec = resource.get("spec") or f"assets/models/{name}.yaml"
        yield (
            f"{resource.label} (model {name}): {'; '.join(failed)}. Fix: register or promote "
            f"a version that passes (`mlstack model show {name}` lists metrics per version); "
            f"change a gate in {spec} only through review."
        )


RULE = Rule(
    "model-gates",
    "Every registered model version passes the quality gates its model declares.",
    check,
    prod_only=True,
)
