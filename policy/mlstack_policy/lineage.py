"""model-lineage: every registered model version traces back to pinned inputs.

The model resource's ``properties.lineage`` (``lineage.json`` of the training run, or of
the promoted source version) must name each data version it was trained on by exact
version and digest, and the exact environment version it ran in — so an auditor can
rebuild the version's history and nothing floats (``latest``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlstack_policy.resource import MODEL_VERSION, PROMOTED_MODEL, Resource, is_sequence
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

MODELS = frozenset({MODEL_VERSION, PROMOTED_MODEL})
VERSION = re.compile(r"^[1-9][0-9]*$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
FIX = (
    "Fix: train with training/train.py or `mlstack job run` on pinned inputs (`name:N` or "
    "`name@latest`, resolved to a version and digest) and an environment version "
    "(`--environment <name>@latest`), then register or promote that artefact."
)


def _pinned(value: Any) -> bool:
    return isinstance(value, str | int) and bool(VERSION.match(str(value)))


def problems(lineage: Any) -> list[str]:
    """What the lineage record lacks (empty when it pins every input)."""
    if not isinstance(lineage, Mapping):
        return ["it records no lineage (properties.lineage)"]
    found = []
    data = lineage.get("data")
    if isinstance(data, Mapping):  # by role, as artefacts of the first release record it
        data = list(data.values())
    if not is_sequence(data) or not data:
        found.append("its lineage names no data version")
    else:
        for item in data:
            entry = item if isinstance(item, Mapping) else {}
            name, version = entry.get("name") or "?", entry.get("version")
            if not _pinned(version):
                found.append(f"data {name} is not pinned to a version (version: {version!r})")
            elif not DIGEST.match(str(entry.get("digest") or "")):
                found.append(f"data {name}:{version} has no sha256 digest")
    env = lineage.get("environment")
    env = env if isinstance(env, Mapping) else {}
    if not env.get("name") or not _pinned(env.get("version")):
        found.append("its lineage names no environment version")
    return found


def check(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type not in MODELS:
        return
    found = problems(resource.get("properties", "lineage"))
    if found:
        name = resource.get("name") or resource.name
        yield f"{resource.label} (model {name}): {'; '.join(found)}. {FIX}"


RULE = Rule(
    "model-lineage",
    "Every registered model version has lineage to pinned data versions (version and "
    "digest) and an environment version.",
    check,
    prod_only=True,
)
