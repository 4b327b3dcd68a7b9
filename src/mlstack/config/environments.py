"""Declared environments: ``assets/environments/*.yaml`` read with azure-ai-ml's loader.

The files are Azure ML CLI v2 environment specs (``name``, ``image``, ``conda_file``,
``description``, ``tags``, optional ``version``), so ``az ml environment create -f``
accepts the same file; reading them with ``azure.ai.ml.load_environment`` keeps that
promise honest. mlstack adds the rules of a declared, content-versioned environment:
a base ``image`` plus a ``conda_file`` inside the project, a valid and unique name,
and an explicit version that is a positive integer. Docker ``build:`` contexts are
not supported yet (their digest would have to cover a whole build folder).

Conda files live beside the environment files and are told apart by name: a file
named ``*.conda.yaml`` or ``conda.yaml`` (or ``.yml``) is a conda file and is never
read as an environment. A naming rule (rather than "whatever some environment
references") keeps the set of environment files obvious from a directory listing
and stable when one environment file is broken; a conda file that breaks the rule
is reported on the ``conda_file`` field that points at it, with the rename to make.

The ``digest`` covers the image and the *parsed* conda spec, so reformatting or
commenting the conda file keeps the version while any real change makes a new one.
Every problem of every file is collected first and raised as one ``ConfigError``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from mlstack.config.assets import asset_name_problem, version_problem
from mlstack.config.specfile import (
    SpecKind,
    collect_specs,
    display,
    load_entity,
    read_mapping,
    spec_files,
    string_tags,
    syntax_problem,
)
from mlstack.config.yamlfile import parse
from mlstack.errors import Problem

ENVIRONMENTS_FOLDER = Path("assets") / "environments"
SCHEMA_HELP = "https://aka.ms/ml-cli-v2-environment-yaml-reference"
_EXAMPLE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"


class EnvironmentSpec(BaseModel):
    """One declared environment: a base image plus a parsed conda specification."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The environment name in the workspace."""
    image: str
    """The base Docker image the conda environment is built on."""
    conda: dict[str, Any]
    """The conda file's content, parsed (comments and layout gone)."""
    conda_file: Path
    """The conda file (absolute, inside the project), for messages and review."""
    description: str = ""
    """Free text, changeable in place on an existing version."""
    tags: dict[str, str] = {}
    """String tags, changeable in place on an existing version."""
    version: str | None = None
    """A pinned positive-integer version, or None to let mlstack assign one by content."""
    file: Path
    """The YAML file that declares the environment (absolute)."""

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of canonical JSON of image and conda: what a version is."""
        canonical = json.dumps(
            {"conda": self.conda, "image": self.image},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,  # YAML dates and the like: stable text, never a crash
        )
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_conda_file(path: Path) -> bool:
    """Whether ``path`` is named as a conda file (``*.conda.yaml``, ``conda.yml``, ...)."""
    stem = path.stem.lower() if path.suffix in (".yaml", ".yml") else ""
    return stem == "conda" or stem.endswith(".conda")


def load_environment_specs(
    project_root: Path, folder: Path | None = None
) -> tuple[EnvironmentSpec, ...]:
    """Every environment declared under ``folder`` (default ``<root>/assets/environments``).

    Files are read in name order, conda files skipped; a missing folder declares
    nothing. Raises one ``ConfigError`` listing every problem in every file.
    """
    root = project_root.resolve()
    folder = (folder if folder is not None else root / ENVIRONMENTS_FOLDER).resolve()
    files = [file for file in spec_files(folder) if not is_conda_file(file)]
    return collect_specs(files, lambda file: _load_one(file, root), root, ENVIRONMENT.noun)


def _load_one(file: Path, root: Path) -> tuple[str | None, EnvironmentSpec | None, list[Problem]]:
    """Load one file: its valid name (for the duplicate check) and a spec if it has no problem.

    The conda file is checked by mlstack before azure-ai-ml reads it, so its problems
    land on ``conda_file`` (azure-ai-ml would report a conda syntax error as if it were
    in the environment file); when it is unusable, azure-ai-ml is given an empty inline
    conda spec instead so the rest of the file is still checked in the same pass.
    """
    shown = display(file, root)
    raw = read_mapping(file)
    found: list[tuple[str, str]] = []
    conda_file: Path | None = None
    conda: dict[str, Any] | None = None
    if raw is not None and raw.get("build") is None:
        conda_file, conda, problem = _conda(raw.get("conda_file"), file, root)
        if problem:
            found.append(("conda_file", problem))
    override: list[dict[str, Any]] = [{"conda_file": {}}] if found else []
    env, loader_problems = load_entity(
        "load_environment", file, ENVIRONMENT, params_override=override
    )
    if env is None:
        problems = [*found, *loader_problems]
        return None, None, [Problem(shown, field, reason) for field, reason in problems]

    name: str | None = str(env.name)
    if problem := asset_name_problem(str(name)):
        name = None
        found.append(("name", problem))
    version = None if env.version is None else str(env.version)
    if version is not None and (problem := version_problem(version)):
        found.append(("version", problem))
    if env.build is not None:
        found.append(
            (
                "build",
                "Docker build contexts are not supported by mlstack yet: remove `build:` and "
                f"declare `image:` (a base image such as {_EXAMPLE_IMAGE}) and `conda_file:`",
            )
        )
    elif not env.image:
        found.append(
            (
                "image",
                f"missing: add `image:`, the base Docker image (e.g. {_EXAMPLE_IMAGE})",
            )
        )
    tags, tag_problems = string_tags(env.tags or {})
    found.extend(tag_problems)
    if conda is None and env.build is None and not found:
        # Only when plain YAML could not read what azure-ai-ml could: never pass silently.
        found.append(("", "cannot read the file as plain YAML: remove custom YAML tags"))

    if found or name is None or conda is None or conda_file is None:
        return name, None, [Problem(shown, field, reason) for field, reason in found]
    spec = EnvironmentSpec(
        name=name,
        image=str(env.image),
        conda=conda,
        conda_file=conda_file,
        description=env.description or "",
        tags=tags,
        version=version,
        file=file,
    )
    return name, spec, []


def _conda(
    raw: object, file: Path, root: Path
) -> tuple[Path | None, dict[str, Any] | None, str | None]:
    """The conda file and its parsed content, or the reason it cannot be used."""
    path, problem = _conda_location(raw, file, root)
    if path is None:
        return None, None, problem
    try:
        conda, duplicates = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return None, None, f"cannot read {raw!r} ({error}): save it as UTF-8"
    except yaml.MarkedYAMLError as error:
        where, reason = syntax_problem(error)
        return None, None, f"{raw!r} {where}: {reason}"
    except yaml.YAMLError as error:
        return None, None, f"{raw!r} is not valid YAML ({error}): fix its syntax"
    if duplicates:
        return None, None, "; ".join(f"{raw!r} {d.field}: {d.reason}" for d in duplicates)
    return _conda_content(conda, str(raw), path)


def _conda_location(raw: object, file: Path, root: Path) -> tuple[Path | None, str | None]:
    """Where ``conda_file:`` points, if it names a usable file inside the project."""
    if raw is None:
        return None, (
            "missing: add `conda_file:`, the path (relative to this YAML) of a conda "
            "file named like <environment>.conda.yaml"
        )
    if not isinstance(raw, str):
        return None, (
            "an inline conda spec is not supported: move it into a file named like "
            "<environment>.conda.yaml and give its path relative to this YAML"
        )
    path = (file.parent / raw).resolve()
    if not path.is_relative_to(root):
        return None, (
            f"{raw!r} resolves to {path}, outside the project root {root}: keep the conda "
            "file inside the project (a relative path from the YAML file)"
        )
    if not path.is_file():
        return None, (
            f"{raw!r} resolves to {path}, which is not a file: create it, or correct the "
            "path (it is relative to the YAML file)"
        )
    if path.parent == file.parent and not is_conda_file(path):
        return None, (
            f"{raw!r} sits among the environment files but is not named as a conda file, "
            f"so it would be read as an environment: rename it to {path.stem}.conda.yaml"
        )
    return path, None


def _conda_content(
    conda: object, raw: str, path: Path
) -> tuple[Path | None, dict[str, Any] | None, str | None]:
    """Only a mapping with a ``dependencies`` list is a conda environment file."""
    if not isinstance(conda, Mapping):
        return (
            None,
            None,
            (
                f"{raw!r} is not a conda environment file (a mapping with `dependencies:`): "
                "write `name:`, `channels:` and `dependencies:` lines"
            ),
        )
    if not isinstance(conda.get("dependencies"), list):
        return (
            None,
            None,
            (
                f"{raw!r} has no `dependencies:` list: list the packages, e.g. "
                "`dependencies: [python=3.11, pip, {pip: [...]}]`"
            ),
        )
    return path, {str(key): value for key, value in conda.items()}, None


def _field_reason(field: str, said: str) -> str | None:
    """Environment words for a missing key; None for the shared reasons."""
    if "Missing data" in said:
        return f"missing: add `{field}:` (environment schema: {SCHEMA_HELP})"
    return None


ENVIRONMENT = SpecKind(
    noun="environment",
    help_url=SCHEMA_HELP,
    schema="environment schema",
    unknown_schema="environment schema",
    field_reason=_field_reason,
    not_a_spec=(
        "the file is not an environment: write `key: value` lines (name, image, conda_file)"
    ),
)
