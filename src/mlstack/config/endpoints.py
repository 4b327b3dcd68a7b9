"""Declared online endpoints: ``assets/endpoints/*.yaml`` read with azure-ai-ml's loaders.

Each file is an Azure ML CLI v2 managed online endpoint *or* deployment, so
``az ml online-endpoint create -f`` / ``az ml online-deployment create -f`` accept the
same files. A file with ``endpoint_name:`` is a deployment, anything else an endpoint;
by convention ``<endpoint>.yaml`` and ``<endpoint>-<deployment>.yaml``, e.g.
``digits.yaml`` and ``digits-blue.yaml``.

mlstack adds what a declared estate needs: a deployment references a registered model
and environment by ``azureml:<name>:<version>``; its ``code_configuration.code`` is a
folder inside the project holding ``scoring_script``; it belongs to a declared endpoint;
and the endpoint's ``traffic`` names only declared deployments (percentages summing to
100), because the service rejects traffic to a deployment that does not exist. Every
problem of every file is raised as one ``ConfigError``. Batch endpoint and deployment
files in the same folder are left to :mod:`mlstack.config.batch`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

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

ENDPOINTS_FOLDER = Path("assets") / "endpoints"
_ENDPOINT_HELP = "https://aka.ms/ml-cli-v2-endpoint-online-yaml-reference"
_DEPLOYMENT_HELP = "https://aka.ms/ml-cli-v2-deployment-managed-online-yaml-reference"
ENDPOINT = SpecKind(
    noun="endpoint", help_url=_ENDPOINT_HELP, schema="schema", rejects_help=_ENDPOINT_HELP
)
DEPLOYMENT = SpecKind(
    noun="deployment", help_url=_DEPLOYMENT_HELP, schema="schema", rejects_help=_DEPLOYMENT_HELP
)
_REFERENCE = re.compile(
    r"^(?:azureml:)?(?P<name>[a-zA-Z0-9][a-zA-Z0-9\-_.]*):(?P<version>[^:@/]+)$"
)


class AssetReference(BaseModel):
    """A registered asset named by ``azureml:<name>:<version>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str

    def __str__(self) -> str:
        return f"azureml:{self.name}:{self.version}"


class DeploymentSpec(BaseModel):
    """One managed online deployment of a declared endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    endpoint_name: str
    model: AssetReference
    environment: AssetReference
    code: Path
    """The scoring code folder (absolute, inside the project)."""
    scoring_script: str
    """Path of the entry script (``init()``/``run()``) relative to ``code``."""
    instance_type: str
    instance_count: int = 1
    environment_variables: dict[str, str] = {}
    description: str = ""
    tags: dict[str, str] = {}
    file: Path


class EndpointSpec(BaseModel):
    """One managed online endpoint with its deployments and traffic split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    auth_mode: Literal["key", "aml_token"] = "key"
    description: str = ""
    tags: dict[str, str] = {}
    traffic: dict[str, int] = {}
    """Percent of requests per deployment name; names only declared deployments."""
    deployments: tuple[DeploymentSpec, ...] = ()
    file: Path


def load_endpoint_specs(project_root: Path, folder: Path | None = None) -> tuple[EndpointSpec, ...]:
    """Every endpoint under ``folder`` (default ``<root>/assets/endpoints``), with deployments."""
    root = project_root.resolve()
    folder = (folder if folder is not None else root / ENDPOINTS_FOLDER).resolve()
    problems: list[Problem] = []
    endpoints: dict[str, Any] = {}
    deployments: list[DeploymentSpec] = []
    for file in spec_files(folder):
        shown = display(file, root)
        if is_batch_spec(read_mapping(file)):
            continue  # mlstack.config.batch reads it
        if _is_deployment(file):
            deployment, found = _deployment(file, root)
            if deployment is not None:
                deployments.append(deployment)
        else:
            endpoint, found = _endpoint(file)
            if endpoint is not None:
                first = endpoints.setdefault(endpoint.name.casefold(), endpoint)
                if first is not endpoint:
                    found.append(
                        ("name", duplicate_reason(ENDPOINT.noun, endpoint.name, first.file, root))
                    )
        problems.extend(Problem(shown, field, reason) for field, reason in found)
    specs, found_links = _link(endpoints, deployments, root)
    problems.extend(found_links)
    if problems:
        raise ConfigError(problems)
    return specs


def _is_deployment(file: Path) -> bool:
    raw = read_mapping(file)  # None: the endpoint loader reports it, with position
    return raw is not None and "endpoint_name" in raw


def _endpoint(file: Path) -> tuple[EndpointSpec | None, list[tuple[str, str]]]:
    entity, found = load_entity("load_online_endpoint", file, ENDPOINT)
    if entity is None:
        return None, found
    name = str(entity.name or "")
    if problem := endpoint_name_problem(name):
        found.append(("name", problem))
    if type(entity).__name__ != "ManagedOnlineEndpoint":
        found.append(("", "only managed online endpoints are supported: remove `compute:`"))
    auth = str(entity.auth_mode or "key").lower()
    if auth not in ("key", "aml_token"):
        found.append(("auth_mode", f"{auth!r} is not supported: use key or aml_token"))
    traffic: dict[str, int] = {}
    for deployment, percent in (entity.traffic or {}).items():
        if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
            found.append((f"traffic.{deployment}", f"{percent!r} is not a percentage 0-100"))
        else:
            traffic[str(deployment)] = percent
    if traffic and sum(traffic.values()) != 100:
        found.append(
            ("traffic", f"the percentages add up to {sum(traffic.values())}: make them 100")
        )
    if found:
        return None, found
    spec = EndpointSpec(
        name=name,
        auth_mode="aml_token" if auth == "aml_token" else "key",
        description=entity.description or "",
        tags={str(k): str(v) for k, v in (entity.tags or {}).items()},
        traffic=traffic,
        file=file,
    )
    return spec, []


def _deployment(file: Path, root: Path) -> tuple[DeploymentSpec | None, list[tuple[str, str]]]:
    entity, found = load_entity("load_online_deployment", file, DEPLOYMENT)
    if entity is None:
        return None, found
    name = str(entity.name or "")
    if problem := endpoint_name_problem(name):
        found.append(("name", problem.replace("online endpoint", "deployment")))
    model, problem = _reference(entity.model, "model", "digits-cnn:1")
    if problem:
        found.append(("model", problem))
    environment, problem = _reference(entity.environment, "environment", "digits-env:1")
    if problem:
        found.append(("environment", problem))
    code, script, code_problems = _code(entity.code_configuration, file, root)
    found.extend(code_problems)
    count = int(entity.instance_count or 0)
    if count < 1:
        found.append(("instance_count", f"{count} is less than 1: give at least one instance"))
    if found or model is None or environment is None or code is None:
        return None, found
    spec = DeploymentSpec(
        name=name,
        endpoint_name=str(entity.endpoint_name),
        model=model,
        environment=environment,
        code=code,
        scoring_script=script,
        instance_type=str(entity.instance_type),
        instance_count=count,
        environment_variables={
            str(k): str(v) for k, v in (entity.environment_variables or {}).items()
        },
        description=entity.description or "",
        tags={str(k): str(v) for k, v in (entity.tags or {}).items()},
        file=file,
    )
    return spec, []


def _reference(raw: object, kind: str, example: str) -> tuple[AssetReference | None, str | None]:
    """``azureml:<name>:<version>`` (azure-ai-ml has stripped ``azureml:`` already)."""
    match = _REFERENCE.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        return None, (
            f"declare the {kind} by reference to a registered version, "
            f"`{kind}: azureml:{example}` (inline {kind}s and @latest are not supported)"
        )
    return AssetReference(name=match["name"], version=match["version"]), None


def _code(raw: Any, file: Path, root: Path) -> tuple[Path | None, str, list[tuple[str, str]]]:
    field = "code_configuration"
    if raw is None or not isinstance(getattr(raw, "code", None), str):
        return (
            None,
            "",
            [(field, "missing: add `code_configuration: {code: ..., scoring_script: ...}`")],
        )
    code = (file.parent / raw.code).resolve()
    script = str(raw.scoring_script or "")
    if not code.is_relative_to(root):
        return None, script, [(f"{field}.code", f"{raw.code!r} is outside the project root {root}")]
    if not code.is_dir():
        return None, script, [(f"{field}.code", f"{raw.code!r} resolves to {code}, not a folder")]
    if not script or not (code / script).is_file():
        return (
            None,
            script,
            [
                (
                    f"{field}.scoring_script",
                    f"{script!r} is not a file in {raw.code!r}: name the entry script "
                    "(with init() and run()) relative to the code folder",
                )
            ],
        )
    return code, script, []


class _Deployment(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def endpoint_name(self) -> str: ...

    @property
    def file(self) -> Path: ...


D = TypeVar("D", bound=_Deployment)


def attach_deployments(
    endpoints: Iterable[tuple[str, str]], deployments: Iterable[D], root: Path, *,
    endpoint_noun: str, deployment_noun: str,
) -> tuple[dict[str, dict[str, D]], list[Problem]]:  # fmt: skip
    """Each endpoint's deployments (keys: casefolded endpoint and deployment names), given
    the endpoints as (key, name); a deployment of no declared endpoint and a second
    deployment of one name are problems. Online and batch endpoints share this."""
    problems: list[Problem] = []
    names = dict(endpoints)
    owned: dict[str, dict[str, D]] = {key: {} for key in names}
    for deployment in deployments:
        mine = owned.get(deployment.endpoint_name.casefold())
        shown = display(deployment.file, root)
        if mine is None:
            declared = ", ".join(sorted(names.values())) or "none"
            problems.append(Problem(
                shown, "endpoint_name",
                f"{deployment.endpoint_name!r} is not a declared {endpoint_noun} (declared: "
                f"{declared}): add assets/endpoints/{deployment.endpoint_name}.yaml or "
                "correct the name",
            ))  # fmt: skip
            continue
        first = mine.setdefault(deployment.name.casefold(), deployment)
        if first is not deployment:
            reason = duplicate_reason(deployment_noun, deployment.name, first.file, root)
            problems.append(Problem(shown, "name", reason))
    return owned, problems


def _link(
    endpoints: Mapping[str, EndpointSpec], deployments: list[DeploymentSpec], root: Path
) -> tuple[tuple[EndpointSpec, ...], list[Problem]]:
    """Attach deployments to endpoints; traffic may name only declared deployments."""
    owned, problems = attach_deployments(
        ((key, e.name) for key, e in endpoints.items()), deployments, root,
        endpoint_noun="endpoint", deployment_noun=DEPLOYMENT.noun,
    )  # fmt: skip
    specs = []
    for key, endpoint in endpoints.items():
        mine = owned[key]
        problems.extend(_traffic_problems(endpoint, mine, root))
        specs.append(endpoint.model_copy(update={"deployments": tuple(mine.values())}))
    return tuple(specs), problems


def _traffic_problems(
    endpoint: EndpointSpec, deployments: Mapping[str, DeploymentSpec], root: Path
) -> Iterator[Problem]:
    declared = ", ".join(sorted(d.name for d in deployments.values())) or "none"
    for name in endpoint.traffic:
        if name.casefold() not in deployments:
            yield Problem(
                display(endpoint.file, root),
                f"traffic.{name}",
                f"{name!r} is not a declared deployment of {endpoint.name!r} (declared: "
                f"{declared}): declare it in assets/endpoints/{endpoint.name}-{name}.yaml "
                "or remove it from traffic",
            )
