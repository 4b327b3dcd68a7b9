"""Declared data assets: ``assets/data/*.yaml`` read with azure-ai-ml's own loader.

The files are Azure ML CLI v2 data specs, so ``az ml data create -f`` accepts the same
file; reading them with ``azure.ai.ml.load_data`` (rather than a schema of our own)
keeps that promise honest: whatever its schema rejects, mlstack rejects with the same
words. On top of that, mlstack adds the rules of a declared, content-versioned asset:
the content is a local file or folder inside the project, the name is a valid Azure ML
asset name and unique across files, and an explicit version is a positive integer.

Versions: mlstack assigns the next integer version whenever the content changes, the
way Azure ML's ``nextVersion`` does. A ``version:`` in the file pins that number and is
accepted only as a positive integer, so pinned and assigned versions order alike.

Every problem of every file is collected first and raised as one ``ConfigError``, so
a preview fails once with the whole list and nothing is declared.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mlstack.config.specfile import (
    DATA_SCHEMA_HELP,
    SpecKind,
    collect_specs,
    data_field_reason,
    display,
    load_entity,
    read_mapping,
    spec_files,
    string_tags,
)
from mlstack.errors import Problem

DATA_FOLDER = Path("assets") / "data"
DataType = Literal["uri_folder", "uri_file"]
SUPPORTED_TYPES: dict[str, DataType] = {"uri_folder": "uri_folder", "uri_file": "uri_file"}
SCHEMA_HELP = DATA_SCHEMA_HELP
DATA = SpecKind(
    noun="data asset", help_url=SCHEMA_HELP, schema="data schema", field_reason=data_field_reason
)

# The asset-name rule azure-ai-ml 1.35 ships (model_dataplane ``_models_operations.py``):
# 1-255 of letters, digits, '-', '_', '.', not starting with '-', '_' or '.', not
# ending with '.'. The data REST client in the package carries no pattern, and the
# service applies the same rule to every asset kind.
_ASSET_NAME = re.compile(r"^(?![\-_.])[a-zA-Z0-9\-_.]{1,255}(?<!\.)$")
_VERSION = re.compile(r"^[1-9][0-9]*$")
_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class DataSpec(BaseModel):
    """One declared data asset, validated and with its content path made absolute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The asset name in the workspace."""
    type: DataType
    """``uri_folder`` (a folder tree) or ``uri_file`` (one file)."""
    path: Path
    """The content: absolute, symlinks resolved, inside the project root."""
    description: str = ""
    """Free text, changeable in place on an existing version."""
    tags: dict[str, str] = {}
    """String tags, changeable in place on an existing version."""
    version: str | None = None
    """A pinned positive-integer version, or None to let mlstack assign one by content."""
    file: Path
    """The YAML file that declares the asset (absolute), for error messages and lineage."""


def asset_name_problem(name: str) -> str | None:
    """None if ``name`` is a valid Azure ML asset name, else a reason phrased as a fix."""
    if _ASSET_NAME.fullmatch(name):
        return None
    return (
        f"{name!r} is not a valid asset name: use 1-255 letters, digits, '-', '_' or '.', "
        "starting with a letter or digit and not ending with '.'"
    )


def version_problem(version: str) -> str | None:
    """None if ``version`` is a positive integer string, else a reason phrased as a fix."""
    if _VERSION.fullmatch(version):
        return None
    return (
        f"{version!r} is not a positive integer: remove `version:` so mlstack assigns one "
        "by content, or pin an integer such as 1"
    )


def load_data_specs(project_root: Path, folder: Path | None = None) -> tuple[DataSpec, ...]:
    """Every data asset declared under ``folder`` (default ``<root>/assets/data``).

    Files are read in name order; a missing folder declares nothing. Raises one
    ``ConfigError`` listing every problem in every file.
    """
    root = project_root.resolve()
    folder = (folder if folder is not None else root / DATA_FOLDER).resolve()
    return collect_specs(spec_files(folder), lambda file: _load_one(file, root), root, DATA.noun)


def _load_one(file: Path, root: Path) -> tuple[str | None, DataSpec | None, list[Problem]]:
    """Load one file: its declared name (if valid), and a spec only when it has no problem.

    The name comes back even when other fields are wrong, so duplicates are reported
    in the same pass as everything else.
    """
    shown = display(file, root)
    data, loader_problems = load_entity("load_data", file, DATA)
    if data is None:
        return None, None, [Problem(shown, field, reason) for field, reason in loader_problems]

    found: list[tuple[str, str]] = []
    name: str | None = str(data.name)
    if not _declares_name(file):
        name = None
        found.append(("name", "missing: add `name:`, the asset's name in the workspace"))
    elif problem := asset_name_problem(str(name)):
        name = None
        found.append(("name", problem))
    version = None if data.version is None else str(data.version)
    if version is not None and (problem := version_problem(version)):
        found.append(("version", problem))
    kind = SUPPORTED_TYPES.get(data.type)
    if kind is None:
        found.append(
            (
                "type",
                f"{data.type!r} is not supported by mlstack yet: use uri_folder (a folder) "
                "or uri_file (one file)",
            )
        )
    tags, tag_problems = string_tags(data.tags or {})
    found.extend(tag_problems)
    path, path_problem = _content_path(data.path, data.type, file, root)
    if path_problem:
        found.append(("path", path_problem))

    if found or path is None or name is None or kind is None:
        return name, None, [Problem(shown, field, reason) for field, reason in found]
    spec = DataSpec(
        name=name,
        type=kind,
        path=path,
        description=data.description or "",
        tags=tags,
        version=version,
        file=file,
    )
    return name, spec, []


def _declares_name(file: Path) -> bool:
    """Whether the file sets ``name``: without it azure-ai-ml invents a random one.

    Read after ``load_data`` succeeded, so the YAML is known to parse to a mapping.
    """
    raw = read_mapping(file)
    return raw is not None and raw.get("name") is not None


def _content_path(raw: object, kind: str, file: Path, root: Path) -> tuple[Path | None, str | None]:
    """The resolved content path, or the reason it cannot be used."""
    text = str(raw)
    if isinstance(raw, str) and _REMOTE.match(text):
        return None, (
            f"{text!r} is remote, which is not supported for declared assets yet: download "
            "the content into the project and give its path relative to the YAML file"
        )
    path = (file.parent / Path(text)).resolve()
    if not path.is_relative_to(root):
        return None, (
            f"{text!r} resolves to {path}, outside the project root {root}: keep asset "
            "content inside the project (a relative path from the YAML file)"
        )
    return (None, problem) if (problem := _kind_problem(path, text, kind)) else (path, None)


def _kind_problem(path: Path, text: str, kind: str) -> str | None:
    """Whether the content at ``path`` exists and is what ``type`` says it is."""
    if not path.exists():
        return (
            f"{text!r} resolves to {path}, which does not exist: create it, or correct the "
            "path (it is relative to the YAML file)"
        )
    if kind == "uri_folder":
        if not path.is_dir():
            return f"{text!r} is a file, not a folder: use `type: uri_file`, or point at a folder"
        if not _has_file(path):
            return f"{text!r} is an empty folder: add the data files, or correct the path"
    elif kind == "uri_file" and not path.is_file():
        return f"{text!r} is a folder, not a file: use `type: uri_folder`, or point at a file"
    return None


def _has_file(folder: Path) -> bool:
    """True at the first file found, so a 70k-file folder costs one short walk."""
    return any(files for _, _, files in os.walk(folder))
