"""Declared batch endpoints: the batch files of ``assets/endpoints/`` read with azure-ai-ml.

Each file is an Azure ML CLI v2 batch endpoint or model batch deployment, so
``az ml batch-endpoint create -f`` / ``az ml batch-deployment create -f`` accept the same
files (``mlstack.config.specfile.is_batch_spec`` tells them from online ones). By
convention ``<endpoint>.yaml`` and ``<endpoint>-<deployment>.yaml``, e.g.
``digits-batch.yaml`` and ``digits-batch-default.yaml``.

mlstack adds what running a deployment needs: the model is a declared model named by
``azureml:<name>:<version>`` or ``azureml:<name>@latest``; the environment a registered
version; the scoring script, inside the project, defines ``init()`` and
``run(mini_batch)`` (checked by parsing it, never by importing it); the settings keep
Azure ML's ranges and defaults (``mini_batch_size`` 10, ``max_concurrency_per_instance``
1, ``append_row`` into ``predictions.csv``, ``error_threshold`` -1, 3 retries of 30 s).
Every problem of every file is raised as one ``ConfigError``.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mlstack.config.endpoints import ENDPOINTS_FOLDER, AssetReference, attach_deployments
from mlstack.config.models import MODELS_FOLDER
from mlstack.config.naming import endpoint_name_problem
from mlstack.config.specfile import (
    SpecKind,
    display,
    duplicate_reason,
    is_batch_spec,
    load_entity,
    read_mapping,
    spec_files,
)
from mlstack.errors import ConfigError, Problem

_ENDPOINT_HELP = "https://aka.ms/ml-cli-v2-endpoint-batch-yaml-reference"
_DEPLOYMENT_HELP = "https://aka.ms/ml-cli-v2-deployment-batch-yaml-reference"
BATCH_ENDPOINT = SpecKind(noun="batch endpoint", help_url=_ENDPOINT_HELP, schema="schema")
BATCH_DEPLOYMENT = SpecKind(noun="batch deployment", help_url=_DEPLOYMENT_HELP, schema="schema")
_MODEL = re.compile(
    r"^(?:azureml:)?(?P<name>[a-zA-Z0-9][a-zA-Z0-9\-_.]*)(?::(?P<version>[^:@/]+)|@latest)$"
)
OutputAction = Literal["append_row", "summary_only"]


class ModelReference(BaseModel):
    """A model version: ``azureml:<name>:<version>``, or the latest with version None."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"azureml:{self.name}:{self.version}" if self.version else f"{self.name}@latest"


class BatchDeploymentSpec(BaseModel):
    """One model batch deployment: what runs, and how its mini-batches are scheduled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    endpoint_name: str
    model: ModelReference
    environment: AssetReference
    code: Path
    """The scoring code folder (absolute, inside the project)."""
    scoring_script: str
    """The entry script (``init()``/``run(mini_batch)``) relative to ``code``."""
    compute: str = ""
    instance_count: int = 1
    mini_batch_size: int = 10
    """Files per ``run(mini_batch)`` call."""
    max_concurrency_per_instance: int = 1
    output_action: OutputAction = "append_row"
    output_file_name: str = "predictions.csv"
    error_threshold: int = -1
    """Failed files tolerated before the job aborts; -1 tolerates every failure."""
    max_retries: int = 3
    timeout: int = 30
    """Seconds one ``run(mini_batch)`` call may take before it counts as failed."""
    environment_variables: dict[str, str] = {}
    description: str = ""
    tags: dict[str, str] = {}
    file: Path


class BatchEndpointSpec(BaseModel):
    """One batch endpoint with its deployments; ``default_deployment`` serves invokes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    tags: dict[str, str] = {}
    default_deployment: str = ""
    deployments: tuple[BatchDeploymentSpec, ...] = ()
    file: Path

    def deployment(self, name: str | None = None) -> BatchDeploymentSpec:
        """The named deployment, else the default one (the only one if none is set)."""
        wanted = (
            name
            or self.default_deployment
            or (self.deployments[0].name if len(self.deployments) == 1 else "")
        )
        for deployment in self.deployments:
            if deployment.name.casefold() == wanted.casefold():
                return deployment
        declared = ", ".join(d.name for d in self.deployments) or "none"
        raise ConfigError(
            [
                Problem(
                    self.file.name,
                    "defaults.deployment_name",
                    f"no deployment {wanted or '(default)'!r} (declared: {declared}): name one "
                    "with --deployment or set `defaults: {deployment_name: ...}`",
                )
            ]
        )


def scoring_script_problem(script: Path) -> str | None:
    """Why ``script`` cannot serve a batch deployment, or None; parsed, never imported."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except (OSError, UnicodeDecodeError, SyntaxError) as error:
        return f"cannot parse {script.name} ({error}): fix the script"
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    missing = []
    if "init" not in functions:
        missing.append("init()")
    run = functions.get("run")
    if run is None or len(run.args.posonlyargs) + len(run.args.args) < 1:
        missing.append("run(mini_batch)")
    if not missing:
        return None
    return (
        f"{script.name} defines no {' and no '.join(missing)} at module level: a batch "
        "scoring script defines init() (load the model) and run(mini_batch) (score a list "
        "of file paths, return one row per file)"
    )


def load_batch_specs(
    project_root: Path, folder: Path | None = None
) -> tuple[BatchEndpointSpec, ...]:
    """Every batch endpoint under ``folder`` (default ``<root>/assets/endpoints``)."""
    root = project_root.resolve()
    folder = (folder if folder is not None else root / ENDPOINTS_FOLDER).resolve()
    models = _declared_models(root)
    problems: list[Problem] = []
    endpoints: dict[str, BatchEndpointSpec] = {}
    deployments: list[BatchDeploymentSpec] = []
    written: set[tuple[str, str]] = set()  # (endpoint, deployment) of every file, valid or not
    for file in spec_files(folder):
        raw = read_mapping(file)
        if not is_batch_spec(raw):
            continue
        shown = display(file, root)
        if raw is not None and "endpoint_name" in raw:
            written.add((str(raw["endpoint_name"]).casefold(), str(raw.get("name")).casefold()))
            deployment, found = _deployment(file, root, models)
            if deployment is not None:
                deployments.append(deployment)
        else:
            endpoint, found = _endpoint(file)
            if endpoint is not None:
                first = endpoints.setdefault(endpoint.name.casefold(), endpoint)
                if first is not endpoint:
                    reason = duplicate_reason(BATCH_ENDPOINT.noun, endpoint.name, first.file, root)
                    found.append(("name", reason))
        problems.extend(Problem(shown, field, reason) for field, reason in found)
    specs = _link(endpoints, deployments, root, problems, written)
    if problems:
        raise ConfigError(problems)
    return specs


def _declared_models(root: Path) -> set[str] | None:
    """Names in ``assets/models`` (their own loader checks the rest); None if none declared."""
    names = {
        str(raw["name"]).casefold()
        for file in spec_files(root / MODELS_FOLDER)
        if (raw := read_mapping(file)) is not None and "name" in raw
    }
    return names or None


def _endpoint(file: Path) -> tuple[BatchEndpointSpec | None, list[tuple[str, str]]]:
    entity, found = load_entity("load_batch_endpoint", file, BATCH_ENDPOINT)
    if entity is None:
        return None, found
    name = str(entity.name or "")
    if problem := endpoint_name_problem(name):
        found.append(("name", problem.replace("online endpoint", "batch endpoint")))
    if found:
        return None, found
    defaults = entity.defaults
    spec = BatchEndpointSpec(
        name=name,
        description=entity.description or "",
        tags={str(k): str(v) for k, v in (entity.tags or {}).items()},
        default_deployment=str(getattr(defaults, "deployment_name", None) or ""),
        file=file,
    )
    return spec, []


def _deployment(
    file: Path, root: Path, models: set[str] | None
) -> tuple[BatchDeploymentSpec | None, list[tuple[str, str]]]:
    with warnings.catch_warnings():  # a file without `type: model` is one, not a misuse
        warnings.filterwarnings("ignore", "This class is intended as a base class", UserWarning)
        entity, found = load_entity("load_batch_deployment", file, BATCH_DEPLOYMENT)
    if entity is None:
        return None, found
    name = str(entity.name or "")
    if problem := endpoint_name_problem(name):
        found.append(("name", problem.replace("online endpoint", "deployment")))
    model = _model(entity.model, models, found)
    environment = _environment(entity.environment, found)
    code, script = _code(entity.code_configuration, file, root, found)
    numbers = _settings(entity, found)
    if found or model is None or environment is None or code is None:
        return None, found
    retry = entity.retry_settings
    spec = BatchDeploymentSpec(
        name=name,
        endpoint_name=str(entity.endpoint_name),
        model=model,
        environment=environment,
        code=code,
        scoring_script=script,
        compute=str(entity.compute or ""),
        output_action="summary_only" if entity.output_action == "summary_only" else "append_row",
        output_file_name=str(entity.output_file_name or "predictions.csv"),
        max_retries=3 if getattr(retry, "max_retries", None) is None else int(retry.max_retries),
        timeout=30 if getattr(retry, "timeout", None) is None else int(retry.timeout),
        environment_variables={
            str(k): str(v) for k, v in (entity.environment_variables or {}).items()
        },
        description=entity.description or "",
        tags={str(k): str(v) for k, v in (entity.tags or {}).items()},
        file=file,
        **numbers,
    )
    return spec, []


def _model(
    raw: object, models: set[str] | None, found: list[tuple[str, str]]
) -> ModelReference | None:
    match = _MODEL.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        found.append(
            (
                "model",
                "declare the model by reference to a registered version, "
                "`model: azureml:digits-cnn:1` or `model: azureml:digits-cnn@latest` "
                "(inline models are not supported)",
            )
        )
        return None
    if models is not None and match["name"].casefold() not in models:
        found.append(
            (
                "model",
                f"{match['name']!r} is not a model declared in {MODELS_FOLDER.as_posix()} "
                f"(declared: {', '.join(sorted(models))}): correct the name or declare it",
            )
        )
        return None
    return ModelReference(name=match["name"], version=match["version"])


def _environment(raw: object, found: list[tuple[str, str]]) -> AssetReference | None:
    match = _MODEL.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or match["version"] is None:
        found.append(
            (
                "environment",
                "declare the environment by reference to a registered version, "
                "`environment: azureml:digits-env:1`",
            )
        )
        return None
    return AssetReference(name=match["name"], version=match["version"])


def _code(
    raw: Any, file: Path, root: Path, found: list[tuple[str, str]]
) -> tuple[Path | None, str]:
    field = "code_configuration"
    if raw is None or not isinstance(getattr(raw, "code", None), str):
        found.append((field, "missing: add `code_configuration: {code: ..., scoring_script: ...}`"))
        return None, ""
    code = (file.parent / raw.code).resolve()
    script = str(raw.scoring_script or "")
    if not code.is_relative_to(root) or not code.is_dir():
        found.append((f"{field}.code", f"{raw.code!r} is not a folder inside the project {root}"))
        return None, script
    if not script or not (code / script).is_file():
        found.append(
            (
                f"{field}.scoring_script",
                f"{script!r} is not a file in {raw.code!r}: name the entry script "
                "(with init() and run(mini_batch)) relative to the code folder",
            )
        )
        return None, script
    if problem := scoring_script_problem(code / script):
        found.append((f"{field}.scoring_script", problem))
        return None, script
    return code, script


def _settings(entity: Any, found: list[tuple[str, str]]) -> dict[str, int]:
    """The integer settings, each in Azure ML's range, defaults where absent."""
    resources = getattr(entity, "resources", None)
    values = {
        "mini_batch_size": (entity.mini_batch_size, 10, 1),
        "max_concurrency_per_instance": (entity.max_concurrency_per_instance, 1, 1),
        "error_threshold": (entity.error_threshold, -1, -1),
        "instance_count": (getattr(resources, "instance_count", None), 1, 1),
    }
    settings: dict[str, int] = {}
    for field, (value, default, low) in values.items():
        number = default if value is None else value
        if not isinstance(number, int) or isinstance(number, bool) or number < low:
            found.append((field, f"{number!r} is not a whole number >= {low}: correct it"))
        else:
            settings[field] = number
    retry = entity.retry_settings
    for field, low in (("max_retries", 0), ("timeout", 1)):
        value = getattr(retry, field, None)
        if value is not None and (not isinstance(value, int) or value < low):
            found.append(
                (f"retry_settings.{field}", f"{value!r} is not a whole number >= {low}: correct it")
            )
    return settings


def _link(
    endpoints: dict[str, BatchEndpointSpec],
    deployments: list[BatchDeploymentSpec],
    root: Path,
    problems: list[Problem],
    written: set[tuple[str, str]],
) -> tuple[BatchEndpointSpec, ...]:
    """Attach deployments to endpoints; a default deployment must be declared."""
    owned, found = attach_deployments(
        ((key, e.name) for key, e in endpoints.items()), deployments, root,
        endpoint_noun="batch endpoint", deployment_noun=BATCH_DEPLOYMENT.noun,
    )  # fmt: skip
    problems.extend(found)
    specs = []
    for key, endpoint in endpoints.items():
        mine = owned[key]
        default = endpoint.default_deployment
        if default and (key, default.casefold()) not in written:
            problems.append(
                Problem(
                    display(endpoint.file, root),
                    "defaults.deployment_name",
                    f"{default!r} is not a declared deployment of {endpoint.name!r}: declare "
                    f"it in assets/endpoints/{endpoint.name}-{default}.yaml or correct it",
                )
            )
        specs.append(endpoint.model_copy(update={"deployments": tuple(mine.values())}))
    return tuple(specs)
