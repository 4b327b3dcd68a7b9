"""Promotion: pin a validated version of one stack into another stack's config.

The result is a small diff of ``stacks/Pulumi.<to>.yaml`` for review; the target's
``pulumi up`` then copies and registers it. Nothing is pinned that fails a gate, is
archived, or whose stored content does not match its digest. The stack file is edited as
text, replacing only the ``mlstack:promotions`` block, so comments and layout survive.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlstack.config.locator import LocalLocator
from mlstack.config.models import load_model_specs
from mlstack.config.naming import stack_file
from mlstack.config.stack import NAMESPACE
from mlstack.config.yamlfile import load_yaml
from mlstack.content.completion import listing, problems
from mlstack.content.retry import DEFAULT_RETRY
from mlstack.errors import MlstackError, NotFoundError
from mlstack.project import Project
from mlstack.workspace import Workspace, open_workspace
from mlstack.workspace.asset import AssetVersion, upload_prefix

KEY = f"{NAMESPACE}:promotions"


@dataclass(frozen=True)
class PromotionResult:
    """What was pinned, and the diff of the target's stack file."""

    kind: str
    name: str
    version: AssetVersion
    stack_file: Path
    diff: str


def _stack_file(project: Project, stack: str) -> tuple[Path, dict[str, Any]]:
    path = project.root / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise MlstackError(f"{path.relative_to(project.root)} does not exist: create the "
                           f"stack file first (see stacks/Pulumi.local-prod.yaml)")  # fmt: skip
    config = (load_yaml(path, stack_file(stack)) or {}).get("config") or {}
    if config.get(f"{NAMESPACE}:target", "local") != "local":
        raise MlstackError(
            f"stack {stack!r} is not a local stack: promote into Azure stacks through an "
            "Azure ML registry (see docs/azure.md, 'Promotion')"
        )
    return path, config


def _check_content(ws: Workspace, kind: str, found: AssetVersion) -> None:
    """The stored manifest hashes to the digest, and the datastore holds exactly it."""
    registry = ws.models if kind == "model" else ws.data
    manifest = registry.manifest(found.name, found.version)
    where = f"{kind} {found.name}:{found.version}"
    if manifest.digest != found.digest:
        raise MlstackError(f"{where}: its manifest does not hash to {found.digest}: not promoted")
    prefix = upload_prefix(found.digest, found.name)
    with ws.endpoint.client() as service:
        container = service.get_container_client(ws.container)
        wrong = problems(manifest, prefix, listing(container, prefix, DEFAULT_RETRY))
    if wrong:
        first = next(iter(sorted(wrong.items())))
        raise MlstackError(
            f"{where}: the datastore does not hold its content ({len(wrong)} blob(s) differ, "
            f"e.g. {first[0]}: {first[1]}): not promoted"
        )


def _gates(project: Project, name: str, found: AssetVersion) -> None:
    specs = [s for s in load_model_specs(project.root) if s.name == name]
    if not specs:
        raise MlstackError(f"no file in assets/models/ declares model {name!r}: declare it first")
    metrics = dict(found.properties.get("metrics", {}))
    failed = [reason for reason in (g.check(metrics) for g in specs[0].gates) if reason]
    if failed:
        raise MlstackError(
            f"model {name}:{found.version} fails its gates: {'; '.join(failed)}: not promoted"
        )


def render(text: str, promotions: dict[str, Any]) -> str:
    """``text`` with its ``mlstack:promotions`` block replaced (or added) and nothing else."""
    block = yaml.safe_dump({KEY: promotions}, sort_keys=True, default_flow_style=False)
    block_lines = ["  " + line for line in block.rstrip("\n").splitlines()]
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"  {KEY}:")), None)
    if start is not None:
        end = start + 1
        while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
            end += 1
        lines[start:end] = block_lines
    else:
        config = next(i for i, line in enumerate(lines) if line.startswith("config:"))
        end = config + 1
        while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
            end += 1
        lines[end:end] = block_lines
    return "\n".join(lines) + "\n"


def promote(
    project: Project, name: str, *, source: str, target: str, version: str | None = None,
    kind: str = "model",
) -> PromotionResult:  # fmt: skip
    """Check ``kind`` ``name`` (default: latest) in ``source`` and pin it in ``target``."""
    if source == target:
        raise MlstackError("--from and --to name the same stack: promote between two stacks")
    path, config = _stack_file(project, target)
    _stack_file(project, source)
    ws = open_workspace(LocalLocator(stack=source), project)
    registry = ws.models if kind == "model" else ws.data
    try:
        found = registry.get(name, version)
    except NotFoundError as error:
        raise MlstackError(f"stack {source!r}: {error}") from None
    if found.archived:
        raise MlstackError(
            f"{kind} {name}:{found.version} is archived in stack {source!r}: restore it there "
            f"(`mlstack {kind} restore {name}:{found.version} -s {source}`) or promote another"
        )
    if kind == "model":
        _gates(project, name, found)
    _check_content(ws, kind, found)

    promotions = dict(config.get(KEY) or {})
    section = "models" if kind == "model" else "data"
    promotions[section] = {
        **dict(promotions.get(section) or {}),
        name: {"from": source, "version": found.version, "digest": found.digest},
    }
    before = path.read_text()
    after = render(before, promotions)
    path.write_text(after)
    diff = "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/stacks/{path.name}", tofile=f"b/stacks/{path.name}",
    ))  # fmt: skip
    return PromotionResult(kind, name, found, path, diff)
