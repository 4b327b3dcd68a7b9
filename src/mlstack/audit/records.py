"""What a stack records about one model version, gathered for its graph and its card.

Everything is read through the workspace protocol (``open_stack(...).workspace()``), so it
works on either target: the version and its properties, the version it was promoted from
(through the source stack's own workspace, when that can be opened), and the data versions
its lineage names. Gates and model-card text come from the model YAML in ``assets/models/``;
the deployments serving it from the stack's outputs (traffic), matched to the model by the
endpoint YAML's deployments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlstack.audit.graph import LineageGraph, Serving, build_graph
from mlstack.config.endpoints import load_endpoint_specs
from mlstack.config.models import ModelSpec, load_model_specs
from mlstack.errors import MlstackError
from mlstack.stack import Stack
from mlstack.workspace.asset import AssetVersion

__all__ = ["ModelRecords", "gather", "promotion_chain", "serving", "spec_of"]

MAX_HOPS = 8  # promotions chained stack to stack; a cycle would be a corrupted record


@dataclass(frozen=True)
class ModelRecords:
    """A model version and what surrounds it, as its stack records it."""

    stack: str
    version: AssetVersion
    spec: ModelSpec | None
    """The model YAML, if the project still declares the model."""
    serving: tuple[Serving, ...]
    chain: tuple[tuple[str, AssetVersion | None, Mapping[str, Any]], ...]
    """Each promotion hop back to the trained version: (source stack, the source version
    if its workspace could be read, the promotion record)."""
    notes: tuple[str, ...] = ()
    """What could not be read, said plainly (e.g. a source workspace out of reach)."""

    @property
    def source(self) -> AssetVersion | None:
        """The version this one was promoted from, if any and reachable."""
        return self.chain[0][1] if self.chain else None

    def graph(self) -> LineageGraph:
        return build_graph(
            self.version, stack=self.stack, gates=self.spec.gates if self.spec else (),
            serving=self.serving, source=self.source,
        )  # fmt: skip


def spec_of(stack: Stack, name: str) -> ModelSpec | None:
    """The model YAML declaring ``name``; None if no file declares it."""
    return next((s for s in load_model_specs(stack.project.root) if s.name == name), None)


def serving(stack: Stack, version: AssetVersion, outputs: Mapping[str, Any]) -> tuple[Serving, ...]:
    """The endpoint deployments of ``stack`` that serve ``version``.

    A deployment serves the version the stack declares for its model's name (its
    ``models`` output). Traffic is the ``endpoints`` output where the stack exports it
    (local stacks); otherwise the traffic the endpoint YAML declares.
    """
    declared = (outputs.get("models") or {}).get(version.name) or {}
    if str(declared.get("version")) != version.version:
        return ()
    exported: Mapping[str, Any] | None = outputs.get("endpoints")
    found = []
    for spec in load_endpoint_specs(stack.project.root):
        observed = None if exported is None else exported.get(spec.name)
        if exported is not None and observed is None:
            continue  # the stack exports its endpoints, and this one is not deployed
        traffic = dict((observed or {}).get("traffic") or spec.traffic)
        uri = str((observed or {}).get("scoring_uri") or "")
        for dep in spec.deployments:
            if dep.model.name == version.name:
                found.append(Serving(spec.name, dep.name, int(traffic.get(dep.name, 0)), uri,
                                     declared=observed is None))  # fmt: skip
    return tuple(found)


def promotion_chain(
    stack: Stack, version: AssetVersion
) -> tuple[tuple[tuple[str, AssetVersion | None, Mapping[str, Any]], ...], tuple[str, ...]]:
    """Each promotion hop back to where the version was trained, and what was unreachable."""
    hops: list[tuple[str, AssetVersion | None, Mapping[str, Any]]] = []
    notes: list[str] = []
    current: AssetVersion | None = version
    while current is not None and len(hops) < MAX_HOPS:
        record = current.properties.get("promotion")
        if not isinstance(record, Mapping):
            break
        source_stack = str(record.get("source_stack") or "")
        found: AssetVersion | None = None
        try:
            ws = Stack(stack.project, source_stack).workspace()
            found = ws.models.get(current.name, str(record.get("source_version")))
        except MlstackError as error:
            notes.append(f"source stack {source_stack!r} could not be read: {error}")
        hops.append((source_stack, found, record))
        current = found
    return tuple(hops), tuple(notes)


def gather(stack: Stack, version: AssetVersion) -> ModelRecords:
    """The records around model ``version`` of ``stack`` (read from its workspace)."""
    notes: list[str] = []
    try:
        outputs = stack.outputs()
    except MlstackError as error:
        outputs = {}
        notes.append(f"no serving endpoints read: {error}")
    chain, unreachable = promotion_chain(stack, version)
    return ModelRecords(
        stack=stack.name, version=version, spec=spec_of(stack, version.name),
        serving=serving(stack, version, outputs), chain=chain, notes=(*notes, *unreachable),
    )  # fmt: skip
