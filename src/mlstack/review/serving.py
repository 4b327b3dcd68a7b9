"""Which endpoint deployments serve each model after a preview's changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlstack.audit.graph import Serving
from mlstack.review.steps import kind_of, parse_step, split

__all__ = ["serving_of"]


def serving_of(preview: Mapping[str, Any]) -> dict[str, tuple[Serving, ...]]:
    """Model name → the endpoint deployments serving it after the preview's changes,
    from every endpoint resource (changing or not) of the stack's own endpoints."""
    found: dict[str, list[Serving]] = {}
    for raw in preview.get("steps") or []:
        step = parse_step(raw)
        if step.op == "delete" or kind_of(step.type) != "endpoint":
            continue
        inputs = step.new or step.old
        traffic = split(inputs.get("traffic"))
        deployments = inputs.get("deployments")
        if not isinstance(deployments, dict):
            continue
        for name, deployment in sorted(deployments.items()):
            model = deployment.get("model") if isinstance(deployment, dict) else None
            if model:
                served = Serving(str(inputs.get("name") or step.name), str(name),
                                 dict(traffic).get(str(name), 0))  # fmt: skip
                found.setdefault(str(model), []).append(served)
    return {model: tuple(items) for model, items in found.items()}
