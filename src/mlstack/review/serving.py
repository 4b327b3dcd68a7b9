"""Which endpoint deployments serve each model after a preview's changes.

A local stack's endpoint is one mlstack resource that names its deployments' models and
its traffic. An azure stack's is spread over azure-native ``OnlineDeployment`` resources,
whose ``properties.model`` is the served version's id (``…/models/<name>/versions/<v>``, in
the workspace or an Azure ML registry), and mlstack's traffic resource, which holds the
declared split by endpoint name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlstack.audit.graph import Serving
from mlstack.review.steps import Step, kind_of, parse_step, split

__all__ = ["serving_of"]

MODEL_ID = re.compile(r"/models/([^/]+)/versions/[^/]+$")
"""A model version's id, as an azure-native deployment references it."""


def serving_of(preview: Mapping[str, Any]) -> dict[str, tuple[Serving, ...]]:
    """Model name → the endpoint deployments serving it after the preview's changes,
    from every endpoint resource (changing or not) of the stack's own endpoints."""
    steps = [s for s in map(parse_step, preview.get("steps") or []) if s.op != "delete"]
    found: dict[str, list[Serving]] = {}
    for step in steps:
        if kind_of(step.type) == "endpoint":
            for model, served in _local(step):
                found.setdefault(model, []).append(served)
    for model, served in _azure(steps):
        found.setdefault(model, []).append(served)
    return {model: tuple(items) for model, items in found.items()}


def _local(step: Step) -> list[tuple[str, Serving]]:
    inputs = step.new or step.old
    traffic = dict(split(inputs.get("traffic")))
    deployments = inputs.get("deployments")
    if not isinstance(deployments, dict):
        return []
    endpoint = str(inputs.get("name") or step.name)
    return [
        (str(deployment["model"]), Serving(endpoint, str(name), traffic.get(str(name), 0)))
        for name, deployment in sorted(deployments.items())
        if isinstance(deployment, dict) and deployment.get("model")
    ]


def _azure(steps: list[Step]) -> list[tuple[str, Serving]]:
    """Deployments by the model id they reference, with the split the stack declares."""
    splits = {
        str(inputs["endpoint"]): dict(split(inputs["traffic"]))
        for inputs in (s.new or s.old for s in steps)
        if isinstance(inputs.get("traffic"), dict) and isinstance(inputs.get("endpoint"), str)
    }
    served = []
    for step in steps:
        if not step.type.endswith("machinelearningservices:OnlineDeployment"):
            continue
        inputs = step.new or step.old
        properties = inputs.get("properties")
        model = properties.get("model") if isinstance(properties, dict) else None
        found = MODEL_ID.search(str(model or ""))
        deployment = str(inputs.get("deploymentName") or "")
        # A new endpoint's name is unknown in a preview; the resource is named after it.
        endpoint = next((e for e in splits if step.name.endswith(f"-deployment-{e}-{deployment}")),
                        str(inputs.get("endpointName") or ""))  # fmt: skip
        if found and deployment and endpoint:
            traffic = splits.get(endpoint, {}).get(deployment, 0)
            served.append((found.group(1), Serving(endpoint, deployment, traffic, declared=True)))
    return sorted(served, key=lambda item: (item[1].endpoint, item[1].deployment))
