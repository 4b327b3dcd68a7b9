"""Step reuse: a pipeline step whose component and inputs are unchanged is not run again.

Azure ML reuses a step's earlier outputs when the component and everything bound to its
inputs are the same; locally the same question is answered by a key. A step's reuse key
is the sha256 of the canonical JSON of its component digest, its environment's digest,
each input (a data digest, an upstream output's digest, or a literal as text) and its
output names. Inputs are keyed by content, so a downstream step whose upstream ran again
but wrote the same bytes is still reused.

The key points to the completed run in the stack's ``jobs.db``. That run is taken over
only if the component is deterministic, the pipeline does not force a rerun, and each
recorded output folder still exists and hashes to the digest it had when the run ended
(cheap with the stat-keyed hash cache while nothing changed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlstack.config.components import canonical_json
from mlstack.content.hashcache import HashCache
from mlstack.content.manifest import Manifest
from mlstack.content.scan import scan
from mlstack.errors import ConfigError, NotFoundError
from mlstack.jobs.record import JobStore, ReuseEntry, StoredOutput

__all__ = ["KeyInput", "folder_digest", "remember", "reusable", "reuse_key"]


@dataclass(frozen=True)
class KeyInput:
    """One step input as the key sees it: content digest, or literal text."""

    digest: str | None = None
    literal: str | None = None

    def to_dict(self) -> dict[str, str]:
        # tagged, so a literal that spells a digest can never collide with a data input
        return (
            {"digest": self.digest} if self.digest is not None else {"literal": self.literal or ""}
        )


def reuse_key(
    component_digest: str,
    environment_digest: str | None,
    inputs: Mapping[str, KeyInput],
    outputs: Iterable[str],
) -> str:
    """``sha256:<hex>`` naming this step's work: same key, same outputs expected."""
    body = {
        "component": component_digest,
        "environment": environment_digest,
        "inputs": {name: value.to_dict() for name, value in sorted(inputs.items())},
        "outputs": sorted(outputs),
    }
    return "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()


def folder_digest(folder: Path, cache: HashCache) -> str:
    """The manifest digest mlstack gives data (an output a step left empty has one too)."""
    if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
        return Manifest.of(()).digest
    return scan(folder, cache).digest


def _still_there(output: StoredOutput, cache: HashCache) -> bool:
    path = Path(output.path)
    if not path.is_dir():
        return False
    try:
        return folder_digest(path, cache) == output.digest
    except ConfigError:  # became unreadable or gained a stray symlink: not the same output
        return False


def reusable(
    store: JobStore, key: str, outputs: Iterable[str], cache: HashCache
) -> ReuseEntry | None:
    """The completed run under ``key`` whose output folders are intact, or None.

    The caller decides first whether reuse is allowed at all (deterministic component,
    no ``force_rerun``).
    """
    entry = store.get_reuse(key)
    if entry is None or set(entry.outputs) != set(outputs):
        return None
    try:
        if store.get(entry.job_id).status != "Completed":
            return None
    except NotFoundError:
        return None
    if not all(_still_there(o, cache) for o in entry.outputs.values()):
        return None
    return entry


def remember(
    store: JobStore, key: str, job_id: str, outputs: Mapping[str, StoredOutput], created_at: str
) -> None:
    """Record a completed step run as the one ``key`` now reuses."""
    store.put_reuse(ReuseEntry(key, job_id, dict(outputs), created_at))
