"""What a component's preview says: how its spec and code differ from the latest version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlstack.config.components import ComponentSpec, component_digest
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.plan import component_changes
from mlstack.workspace.local import LocalWorkspace

SPEC: dict[str, Any] = {
    "type": "command", "command": "python train.py", "environment": "azureml:env@latest",
    "inputs": {"lr": {"type": "number", "default": 0.1}}, "outputs": {}, "is_deterministic": True,
}  # fmt: skip


def manifest(**files: str) -> Manifest:
    return Manifest.of(FileEntry(p, len(c), c * 4) for p, c in files.items())


def spec(tmp_path: Path, body: dict[str, Any]) -> ComponentSpec:
    return ComponentSpec(name="train_digits", spec=body, code=tmp_path, file=tmp_path / "t.yaml")


def no_blobs() -> BlobEndpoint:
    raise AssertionError("planning reads the catalog only")


def test_the_summary_names_code_ports_and_fields(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "catalog.db", "c", no_blobs)
    first = manifest(**{"train.py": "a" * 16, "util.py": "b" * 16})
    first_spec = spec(tmp_path, SPEC)
    digest = component_digest(SPEC, first.digest)
    assert component_changes(ws, first_spec, first, digest) == "new component (+2 files)"
    ws.registry("component").register(
        "train_digits", type_="command", uri="azureml://x", digest=digest, manifest=first,
        properties={"spec": SPEC, "code_digest": first.digest},
    )  # fmt: skip
    assert component_changes(ws, first_spec, first, digest) == "no changes (version 1)"

    code = manifest(**{"train.py": "c" * 16, "util.py": "d" * 16})
    ports = {"lr": {"type": "number", "default": 0.2}, "threshold": {"type": "number"}}
    body = {**SPEC, "command": "python train.py --fast", "inputs": ports}
    changed = component_changes(ws, spec(tmp_path, body), code, component_digest(body, code.digest))
    assert changed == "code: 2 changed; inputs: +threshold, ~lr; command changed since version 1"

    only_code = component_changes(ws, first_spec, code, component_digest(SPEC, code.digest))
    assert only_code == "code: 2 changed since version 1"
