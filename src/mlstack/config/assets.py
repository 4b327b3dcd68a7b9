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
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import marshmallow
import yaml
from pydantic import BaseModel, ConfigDict

from mlstack.errors import ConfigError, Problem

DATA_FOLDER = Path("assets") / "data"
DataType = Literal["uri_folder", "uri_file"]
SUPPORTED_TYPES: dict[str, DataType] = {"uri_folder": "uri_folder", "uri_file": "uri_file"}
SCHEMA_HELP = "https://aka.ms/ml-cli-v2-data-yaml-reference"

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
    specs: list[DataSpec] = []
    problems: list[Problem] = []
    names: list[tuple[str, Path]] = []
    for file in _spec_files(folder):
        name, spec, found = _load_one(file, root)
        problems.extend(found)
        if name is not None:
            names.append((name, file))
        if spec is not None:
            specs.append(spec)
    problems.extend(_duplicate_names(names, root))
    if problems:
        raise ConfigError(problems)
    return tuple(specs)


def _spec_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _display(file: Path, root: Path) -> str:
    """The file as the user would type it: relative to the project root when inside it."""
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return str(file)


@contextmanager
def _azure_ml_quiet() -> Iterator[None]:
    """Silence azure-ai-ml's marshmallow deprecation warnings (on import and on load).

    They are about azure-ai-ml's own schemas, nobody using mlstack can act on them,
    and they fail a ``-W error`` test run.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=r"azure\.|marshmallow\."
        )
        yield


def _read(file: Path) -> tuple[Any, list[tuple[str, str]]]:
    """azure-ai-ml's ``Data`` entity for ``file``, or (None, what its loader objected to).

    azure-ai-ml is imported here, not at module level, because importing it takes
    seconds and only loading specs needs it.
    """
    with _azure_ml_quiet():
        from azure.ai.ml import load_data  # noqa: PLC0415 - slow import, see docstring
        from azure.ai.ml.exceptions import MlException  # noqa: PLC0415

        try:
            return load_data(source=file), []
        except (MlException, marshmallow.ValidationError) as error:
            return None, list(_loader_problems(error))
        except (OSError, UnicodeDecodeError) as error:
            return None, [("", f"cannot read the file ({error}): save it as UTF-8")]


def _load_one(file: Path, root: Path) -> tuple[str | None, DataSpec | None, list[Problem]]:
    """Load one file: its declared name (if valid), and a spec only when it has no problem.

    The name comes back even when other fields are wrong, so duplicates are reported
    in the same pass as everything else.
    """
    shown = _display(file, root)
    data, loader_problems = _read(file)
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
    tags, tag_problems = _tags(data.tags or {})
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
    with file.open(encoding="utf-8") as stream:
        raw = yaml.safe_load(stream)
    return isinstance(raw, Mapping) and raw.get("name") is not None


def _tags(raw: Mapping[str, Any]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Tags as strings; integers are written plainly, anything else must be quoted."""
    tags: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for key, value in raw.items():
        if isinstance(value, str):
            tags[str(key)] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            tags[str(key)] = str(value)
        else:
            problems.append(
                (
                    f"tags.{key}",
                    f"{value!r} is not a string: tag values are text, quote it "
                    f'(e.g. {key}: "{value}")',
                )
            )
    return tags, problems


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


def _loader_problems(error: Exception) -> Iterator[tuple[str, str]]:
    """(field, reason) pairs from what ``load_data`` raised.

    azure-ai-ml wraps the causes: a YAML syntax error arrives as a ValidationException
    whose ``__cause__`` is the PyYAML ``MarkedYAMLError`` (with the position); a schema
    failure as a marshmallow ValidationError whose ``__cause__`` holds the per-field
    messages (its own ``messages`` is one pre-formatted string).
    """
    cause = error.__cause__
    if isinstance(cause, yaml.MarkedYAMLError):
        yield _syntax_problem(cause)
    elif isinstance(cause, marshmallow.ValidationError) and isinstance(cause.messages, dict):
        for field, messages in _flatten(cause.messages):
            yield field, _schema_reason(field, messages)
    elif not isinstance(error, marshmallow.ValidationError):
        message = str(getattr(error, "message", error)).strip()
        if "yaml file is empty" in message.lower():
            yield "", "the file is empty: declare the asset (name, type, path) or delete the file"
        elif "expect dict" in message.lower():
            yield "", "the file is not a mapping: write `key: value` lines (name, type, path)"
        else:
            yield "", f"azure-ai-ml cannot load it: {message}"
    else:
        yield "", f"azure-ai-ml rejects it: {error} (see {SCHEMA_HELP})"


def _syntax_problem(error: yaml.MarkedYAMLError) -> tuple[str, str]:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}" if mark is not None else ""
    column = f", column {mark.column + 1}" if mark is not None else ""
    what = error.problem or error.context or "invalid YAML"
    return where, f"YAML syntax error{column}: {what}; fix the YAML syntax there"


def _flatten(messages: Mapping[Any, Any], prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    for key, value in messages.items():
        field = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{field}.")
        else:
            yield field, [str(v) for v in _as_list(value)]


def _as_list(value: object) -> Iterable[object]:
    return value if isinstance(value, list | tuple) else [value]


def _schema_reason(field: str, messages: list[str]) -> str:
    said = " ".join(messages)
    if said == "Unknown field.":
        return (
            "unknown key (azure-ai-ml: Unknown field.): remove it or correct its spelling; "
            f"the data schema is at {SCHEMA_HELP}"
        )
    if field == "path" and "Missing data" in said:
        return "missing: add `path:`, the local folder or file to register, relative to the YAML"
    if field == "type":
        return f"azure-ai-ml: {said} mlstack supports uri_folder and uri_file"
    return f"azure-ai-ml: {said} Correct the value (data schema: {SCHEMA_HELP})"


def _duplicate_names(names: Iterable[tuple[str, Path]], root: Path) -> Iterator[Problem]:
    """Each later file reusing a name, naming the first; case-insensitive, as ARM names are."""
    first: dict[str, Path] = {}
    for name, file in names:
        seen = first.setdefault(name.casefold(), file)
        if seen != file:
            yield Problem(
                _display(file, root),
                "name",
                f"{name!r} is also declared in {_display(seen, root)}: give each data asset "
                "its own name, or delete one of the files",
            )
