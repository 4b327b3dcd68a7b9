"""A spec file of the assets folder: what every ``assets/<kind>/*.yaml`` loader shares.

Each kind (data, models, environments, compute, endpoints) is read with azure-ai-ml's
own loader, so ``az ml <kind> create -f`` accepts the same file. Around that loader
this module lists the files, refuses duplicate keys (which the loader would let
through, keeping the last), silences azure-ai-ml's marshmallow warnings, turns what
the loader raises into ``(field, reason)`` pairs worded for the kind (``SpecKind``),
and holds the checks every kind makes: string tags and names unique per folder.

Every loader collects every problem of every file and raises one ``ConfigError``, so
a preview fails once with the whole list and nothing is declared.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import marshmallow
import yaml

from mlstack.config.yamlfile import duplicate_keys
from mlstack.errors import ConfigError, Problem

DATA_SCHEMA_HELP = "https://aka.ms/ml-cli-v2-data-yaml-reference"
Loader = Literal[
    "load_data",
    "load_model",
    "load_environment",
    "load_compute",
    "load_online_endpoint",
    "load_online_deployment",
    "load_batch_endpoint",
    "load_batch_deployment",
    "load_component",
]
"""The azure-ai-ml loaders mlstack reads spec files with."""
FieldReasons = Callable[[str, str], str | None]
"""``(field, azure-ai-ml's message)`` to a kind's own reason, or None for the shared one."""
Spec = TypeVar("Spec")


def data_field_reason(field: str, said: str) -> str | None:
    """The data asset's own reasons for a missing ``path`` and an unsupported ``type``."""
    if field == "path" and "Missing data" in said:
        return "missing: add `path:`, the local folder or file to register, relative to the YAML"
    if field == "type":
        return f"azure-ai-ml: {said} mlstack supports uri_folder and uri_file"
    return None


@dataclass(frozen=True)
class SpecKind:
    """The words one kind of spec file uses in its messages."""

    noun: str
    """What one file declares, as in "give each <noun> its own name"."""
    help_url: str
    """The kind's Azure ML CLI v2 YAML reference, linked from schema messages."""
    schema: str
    """How a wrong value's message names the schema: "Correct the value (<schema>: <url>)"."""
    unknown_schema: str = ""
    """How an unknown key's message names the schema ("the <…> is at <url>"); default ``schema``."""
    field_reason: FieldReasons = lambda _field, _said: None
    """Kind-specific reasons for schema messages, asked after the unknown-key check."""
    not_a_spec: str | None = None
    """The reason for an empty or non-mapping file, if the kind words it as one."""
    rejects_help: str = ""
    """The reference linked when azure-ai-ml rejects a file without naming a field; default
    ``help_url``."""


def spec_files(folder: Path) -> list[Path]:
    """The ``*.yaml`` and ``*.yml`` files directly in ``folder``, in name order; none if absent."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def display(file: Path, root: Path) -> str:
    """The file as the user would type it: relative to the project root when inside it."""
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return str(file)


def read_mapping(file: Path) -> Mapping[str, Any] | None:
    """The file as plain YAML, or None when it is not a readable mapping.

    None is not a problem of its own: azure-ai-ml's loader reports the same file's
    syntax and shape problems, with positions.
    """
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return raw if isinstance(raw, Mapping) else None


BATCH_ONLY_KEYS = frozenset(
    {"defaults", "mini_batch_size", "max_concurrency_per_instance", "output_action",
     "output_file_name", "error_threshold", "retry_settings", "logging_level"}
)  # fmt: skip
"""Keys only batch endpoints (``defaults``) and batch deployments use."""


def is_batch_spec(raw: Mapping[str, Any] | None) -> bool:
    """True for a batch endpoint or deployment file of ``assets/endpoints``.

    Online and batch files share the folder, as they share ``az ml`` verbs' folders:
    a ``$schema`` naming a batch schema, or any batch-only key, makes a file batch.
    """
    if raw is None:
        return False
    schema = str(raw.get("$schema", "")).rsplit("/", 1)[-1].lower()
    return "batch" in schema or not BATCH_ONLY_KEYS.isdisjoint(raw)


@contextmanager
def azure_ml_quiet() -> Iterator[None]:
    """Silence azure-ai-ml's marshmallow deprecation warnings (on import and on load).

    They are about azure-ai-ml's own schemas, nobody using mlstack can act on them,
    and they fail a ``-W error`` test run.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=r"azure\.|marshmallow\."
        )
        yield


def load_entity(
    loader: Loader, file: Path, kind: SpecKind, **params: Any
) -> tuple[Any, list[tuple[str, str]]]:
    """azure-ai-ml's entity for ``file``, or (None, what its loader objected to).

    Duplicate keys are looked for first, because azure-ai-ml's loader would silently keep
    the last value: a file with any gives no entity, its duplicates, and whatever else
    the loader finds in it, so one pass lists everything to fix.

    azure-ai-ml is imported here, not at module level, because importing it takes
    seconds and only loading specs needs it.
    """
    duplicates = [(d.field, d.reason) for d in duplicate_keys(file)]
    entity, found = _load(loader, file, kind, **params)
    return (entity, found) if not duplicates else (None, [*duplicates, *found])


def _load(
    loader: Loader, file: Path, kind: SpecKind, **params: Any
) -> tuple[Any, list[tuple[str, str]]]:
    with azure_ml_quiet():
        import azure.ai.ml  # noqa: PLC0415 - slow import, see docstring
        from azure.ai.ml.exceptions import MlException  # noqa: PLC0415

        load = getattr(azure.ai.ml, loader)
        try:
            return load(source=file, **params), []
        except (MlException, marshmallow.ValidationError) as error:
            return None, list(loader_problems(error, kind))
        except (OSError, UnicodeDecodeError) as error:
            return None, [("", f"cannot read the file ({error}): save it as UTF-8")]


def loader_problems(error: Exception, kind: SpecKind) -> Iterator[tuple[str, str]]:
    """(field, reason) pairs from what an azure-ai-ml loader raised, in ``kind``'s words.

    azure-ai-ml wraps the causes: a YAML syntax error arrives as a ValidationException
    whose ``__cause__`` is the PyYAML ``MarkedYAMLError`` (with the position); a schema
    failure as a marshmallow ValidationError whose ``__cause__`` holds the per-field
    messages (its own ``messages`` is one pre-formatted string).
    """
    cause = error.__cause__
    if isinstance(cause, marshmallow.ValidationError) and isinstance(cause.messages, dict):
        for field, messages in flatten(cause.messages):
            yield field, schema_reason(field, " ".join(messages), kind)
    elif isinstance(cause, yaml.MarkedYAMLError):
        yield syntax_problem(cause)
    elif (listed := _listed_errors(error)) is not None:
        for field, message in listed:
            yield field, schema_reason(field, message, kind)
    elif not isinstance(error, marshmallow.ValidationError):
        message = str(getattr(error, "message", error)).strip()
        empty = "yaml file is empty" in message.lower()
        if kind.not_a_spec is not None and (empty or "expect dict" in message.lower()):
            yield "", kind.not_a_spec
        elif empty:
            yield "", f"the file is empty: declare the {kind.noun} or delete the file"
        elif "expect dict" in message.lower():
            yield "", "the file is not a mapping: write `key: value` lines (name, type, path)"
        else:
            yield "", f"azure-ai-ml cannot load it: {message}"
    else:
        yield "", f"azure-ai-ml rejects it: {error} (see {kind.rejects_help or kind.help_url})"


def _listed_errors(error: Exception) -> list[tuple[str, str]] | None:
    """(path, message) pairs of a validation result azure-ai-ml raises as JSON text.

    ``load_component`` reports its schema failures so: one ValidationError whose text
    holds ``{"result": "Failed", "errors": [{"path", "message"}, ...]}``.
    """
    text = str(error)
    start = text.find('{\n  "result"')
    if not isinstance(error, marshmallow.ValidationError) or start < 0:
        return None
    try:
        result, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    errors = result.get("errors") if isinstance(result, dict) else None
    if not isinstance(errors, list) or not errors:
        return None
    return [(str(e.get("path", "")), str(e.get("message", ""))) for e in errors]


def schema_reason(field: str, said: str, kind: SpecKind) -> str:
    """The reason for azure-ai-ml's schema message ``said`` about ``field``."""
    if said == "Unknown field.":
        return (
            "unknown key (azure-ai-ml: Unknown field.): remove it or correct its spelling; "
            f"the {kind.unknown_schema or kind.schema} is at {kind.help_url}"
        )
    if (reason := kind.field_reason(field, said)) is not None:
        return reason
    return f"azure-ai-ml: {said} Correct the value ({kind.schema}: {kind.help_url})"


def syntax_problem(error: yaml.MarkedYAMLError) -> tuple[str, str]:
    """(``line N``, reason) for a YAML syntax error, with the column in the reason."""
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}" if mark is not None else ""
    column = f", column {mark.column + 1}" if mark is not None else ""
    what = error.problem or error.context or "invalid YAML"
    return where, f"YAML syntax error{column}: {what}; fix the YAML syntax there"


def flatten(messages: Mapping[Any, Any], prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """Nested marshmallow messages as (dotted field, messages) pairs."""
    for key, value in messages.items():
        field = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{field}.")
        else:
            yield field, [str(v) for v in (value if isinstance(value, list | tuple) else [value])]


def string_tags(raw: Mapping[str, Any]) -> tuple[dict[str, str], list[tuple[str, str]]]:
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


def duplicate_reason(noun: str, name: str, first: Path, root: Path) -> str:
    """Why a later file may not reuse ``name``, already declared in ``first``."""
    return (
        f"{name!r} is also declared in {display(first, root)}: give each {noun} its own "
        "name, or delete one of the files"
    )


def duplicate_names(names: Iterable[tuple[str, Path]], root: Path, noun: str) -> Iterator[Problem]:
    """Each later file reusing a name, naming the first; case-insensitive, as ARM names are."""
    first: dict[str, Path] = {}
    for name, file in names:
        seen = first.setdefault(name.casefold(), file)
        if seen != file:
            yield Problem(display(file, root), "name", duplicate_reason(noun, name, seen, root))


def collect_specs(
    files: Iterable[Path],
    load_one: Callable[[Path], tuple[str | None, Spec | None, list[Problem]]],
    root: Path,
    noun: str,
) -> tuple[Spec, ...]:
    """Every spec ``load_one`` reads from ``files``, names unique; else one ``ConfigError``.

    ``load_one`` returns a file's valid name even when other fields are wrong, so
    duplicates are reported in the same pass as everything else.
    """
    specs: list[Spec] = []
    problems: list[Problem] = []
    names: list[tuple[str, Path]] = []
    for file in files:
        name, spec, found = load_one(file)
        problems.extend(found)
        if name is not None:
            names.append((name, file))
        if spec is not None:
            specs.append(spec)
    problems.extend(duplicate_names(names, root, noun))
    if problems:
        raise ConfigError(problems)
    return tuple(specs)
