"""``mlstack promote --via registry`` against the loopback Azure ML service.

Two attach-mode azure stacks: ``dev``, whose workspace holds a model version registered by
mlstack (content in Azurite), and ``prod``, which names an Azure ML registry the service
holds. The real ``promote`` (and the real CLI) checks the dev version through azure-ai-ml,
shares it into the registry with ``models.share`` — discovery, then the registry's data
plane — and pins it in prod's stack file with ``via: registry``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.identity import DefaultAzureCredential
from typer.testing import CliRunner

from mlstack.cli import app
from mlstack.config.azure import AzureSettings
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.errors import NotFoundError, PromotionError
from mlstack.project import HOME_ENV, Project
from mlstack.promotion import promote
from mlstack.promotion.registry import RegistrySource, registry_digest, registry_of
from mlstack.services.azurite import ServiceState
from mlstack.stack import Stack
from mlstack.workspace.azure import AzureMLWorkspace
from mlstack.workspace.register import register_folder
from tests.support.azureml import AzureMLService, WorkspaceRef
from tests.support.fixtures import SUBSCRIPTION

MODEL_YAML = """\
name: m
type: custom_model
path: ../../outputs/m
properties:
  mlstack.min.test.accuracy: 0.9
"""
IMPORT = "/import"


def _attach(ws: WorkspaceRef, extra: str = "") -> str:
    return (
        "# a stack file with a comment the pin must keep\nconfig:\n  mlstack:target: azure\n"
        "  mlstack:azure:\n    mode: attach\n"
        f"    subscriptionId: {ws.subscription_id}\n    resourceGroup: {ws.resource_group}\n"
        f"    workspaceName: {ws.name}\n    datastoreName: {ws.datastore}\n"
        f"    blobEndpoint: {ws.blob.url}\n{extra}"
    )


@dataclass(frozen=True)
class Setup:
    project: Project
    service: AzureMLService
    dev: WorkspaceRef
    registry: str
    digest: str

    def file(self, stack: str) -> Path:
        return self.project.root / "stacks" / f"Pulumi.{stack}.yaml"

    def imports(self) -> list[Any]:
        return [r for r in self.service.requests if r.path.endswith(IMPORT)]


def _registry_requests(setup: Setup) -> list[tuple[str, str]]:
    """The requests from the first registry discovery on, named by what they address."""
    requests = [r for r in setup.service.requests if r.path != "/metadata/endpoints"]
    first = next(i for i, r in enumerate(requests) if r.path.endswith("/discovery"))
    marker = f"/registries/{setup.registry}/"
    named = []
    for r in requests[first:]:
        if r.path.endswith("/discovery"):
            named.append((r.method, "discovery"))
        elif marker in r.path:
            named.append((r.method, "registry " + r.path.split(marker, 1)[1]))
        elif r.path.rstrip("/").endswith(f"/workspaces/{setup.dev.name}"):
            named.append((r.method, "workspace"))
        else:
            named.append((r.method, r.path))
    return named


def _register(ws: WorkspaceRef, folder: Path, accuracy: float) -> str:
    settings = AzureSettings(
        mode="attach", subscription_id=ws.subscription_id, resource_group=ws.resource_group,
        workspace_name=ws.name, datastore_name=ws.datastore,
    )  # fmt: skip
    workspace = AzureMLWorkspace.connect(settings, DefaultAzureCredential(), blob_url=ws.blob.url)
    done = register_folder(
        workspace, "model", "m", folder, scan(folder, NoCache()), type_="custom_model",
        properties={"metrics": {"test": {"accuracy": accuracy}}},
    )  # fmt: skip
    return done.version.digest


@pytest.fixture
def setup(  # noqa: PLR0917 - fixtures arrive as parameters
    tmp_path: Path, azureml_service: AzureMLService, azureml_workspace: WorkspaceRef,
    azureml_env: dict[str, str], azurite: ServiceState, monkeypatch: pytest.MonkeyPatch,
) -> Setup:  # fmt: skip
    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    (root / "assets" / "models").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: unit\nruntime: python\nstackConfigDir: stacks\n")
    (root / "assets" / "models" / "m.yaml").write_text(MODEL_YAML)
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    suffix = uuid.uuid4().hex[:8]
    prod = azureml_service.add_workspace(
        SUBSCRIPTION, f"rg-prod-{suffix}", f"ws-prod-{suffix}", blob=azurite.endpoint,
        datastore="mlstack",
    )  # fmt: skip
    registry = f"shared-{suffix}"
    azureml_service.registries.add(registry, SUBSCRIPTION, f"rg-prod-{suffix}")
    (root / "stacks" / "Pulumi.dev.yaml").write_text(_attach(azureml_workspace))
    named = f"    mlRegistry:\n      name: {registry}\n"
    (root / "stacks" / "Pulumi.prod.yaml").write_text(_attach(prod, named))
    folder = tmp_path / "artefact"
    folder.mkdir()
    (folder / "model.bin").write_bytes(bytes(range(256)) * 8)
    digest = _register(azureml_workspace, folder, 0.97)
    return Setup(Project(root), azureml_service, azureml_workspace, registry, digest)


def test_a_version_is_shared_into_the_registry_by_digest_and_pinned(setup: Setup) -> None:
    before = setup.file("prod").read_text()
    result = promote(setup.project, "m", source="dev", target="prod", via="registry")

    assert (result.version.version, result.version.digest) == ("1", setup.digest)
    (stored,) = setup.service.registries.versions(setup.registry, "m")
    assert stored["name"] == "1"
    assert stored["properties"]["properties"]["mlstack.digest"] == setup.digest
    assert stored["properties"]["modelUri"] == (
        f"azureml://registries/{setup.registry}/models/m/versions/1"
    )
    assert _registry_requests(setup) == [
        ("GET", "discovery"),                   # promote: which registry, where
        ("GET", "registry models/m/versions/1"),  # promote: not there yet (404)
        ("GET", "workspace"),                   # share: the workspace's GUID and region
        ("GET", "discovery"),                   # share: its own registry client
        ("GET", "registry models/m/versions"),    # share: the name's latest (evaluator check)
        ("GET", "registry models/m/versions/1"),  # share: not there yet (404)
        ("POST", "registry import"),            # share: the service copies the version
        ("GET", "registry models/m/versions/1"),  # share: read back
        ("GET", "registry models/m/versions/1"),  # promote: the digest it now holds
    ]  # fmt: skip
    (imported,) = setup.imports()
    assert imported.api_version == "2021-10-01-dataplanepreview"
    assert imported.body["properties"]["destinationName"] == "m"
    assert imported.body["properties"]["destinationVersion"] == "1"
    assert imported.body["properties"]["sourceAssetId"].endswith("/models/m/versions/1")
    discovery = [r for r in setup.service.requests if r.path.endswith("/discovery")]
    assert discovery and discovery[0].path == (
        f"/registrymanagement/v1.0/registries/{setup.registry}/discovery"
    )

    after = setup.file("prod").read_text()
    assert after.startswith(before)  # the comment and every line stay; the pin is added
    pin = yaml.safe_load(after)["config"]["mlstack:promotions"]["models"]["m"]
    assert pin == {"from": "dev", "version": "1", "digest": setup.digest, "via": "registry",
                   "registry": setup.registry}  # fmt: skip
    added = [line[1:] for line in result.diff.splitlines()[2:] if line.startswith("+")]
    assert added[-2:] == ["        via: registry", f"        registry: {setup.registry}"]


def test_a_second_promote_of_the_same_version_is_a_no_op(setup: Setup) -> None:
    promote(setup.project, "m", source="dev", target="prod", via="registry")
    pinned = setup.file("prod").read_text()
    setup.service.clear_requests()

    again = promote(setup.project, "m", source="dev", target="prod", via="registry")

    assert again.diff == "" and setup.file("prod").read_text() == pinned
    assert setup.imports() == []  # nothing shared again
    assert len(setup.service.registries.versions(setup.registry, "m")) == 1


def _refused(setup: Setup, **kw: str) -> str:
    before = setup.file("prod").read_text()
    with pytest.raises(PromotionError) as caught:
        promote(setup.project, "m", source=kw.pop("source", "dev"), target="prod",
                via="registry", **kw)  # fmt: skip
    assert setup.file("prod").read_text() == before
    return str(caught.value)


def test_the_same_version_with_another_digest_in_the_registry_is_refused(setup: Setup) -> None:
    other = setup.service.registries._registries[setup.registry]
    body = {"properties": {"modelType": "custom_model", "modelUri": "azureml://elsewhere",
                           "properties": {"mlstack.digest": "sha256:" + "0" * 64}}}  # fmt: skip
    with setup.service.store.lock:
        other.models.put_version("m", "1", body)
    message = _refused(setup)
    assert message.startswith("digest mismatch: registry")
    assert f"has {setup.digest}" in message and "sha256:" + "0" * 64 in message
    assert setup.imports() == []


def test_a_registry_that_does_not_exist_is_named_with_the_fix(setup: Setup) -> None:
    text = setup.file("prod").read_text().replace(setup.registry, "nowhere-registry")
    setup.file("prod").write_text(text)
    message = _refused(setup)
    assert "the Azure ML registry 'nowhere-registry' does not exist" in message
    assert "mlstack:azure.mlRegistry.name in stacks/Pulumi.prod.yaml" in message


def test_a_registry_name_held_by_another_resource_group_is_taken(setup: Setup) -> None:
    """prod creates the registry in its resource group; discovery finds one elsewhere."""
    prod = yaml.safe_load(setup.file("prod").read_text())["config"]["mlstack:azure"]
    create = {**prod, "mode": "create", "resourceGroup": "rg-elsewhere", "location": "westeurope",
              "storageAccount": "mlstackprod01", "keyVault": "kv-mlstack-prod",
              "containerRegistry": "mlstackprod01",
              "mlRegistry": {"name": setup.registry, "create": True}}  # fmt: skip
    setup.file("prod").write_text(
        yaml.safe_dump({"config": {"mlstack:target": "azure", "mlstack:azure": create}})
    )
    message = _refused(setup)
    assert f"the Azure ML registry name {setup.registry!r} is taken" in message
    assert "choose another for mlstack:azure.mlRegistry.name" in message
    assert setup.imports() == []


def test_local_stacks_are_refused_with_a_reason(setup: Setup) -> None:
    (setup.project.root / "stacks" / "Pulumi.local.yaml").write_text(
        "config:\n  mlstack:target: local\n"
    )
    message = _refused(setup, source="local")
    assert "only an azure stack's workspace can share a model into an Azure ML registry" in message
    (setup.project.root / "stacks" / "Pulumi.local-prod.yaml").write_text(
        "config:\n  mlstack:target: local\n"
    )
    with pytest.raises(PromotionError, match="a local stack has no Azure ML registry"):
        promote(setup.project, "m", source="dev", target="local-prod", via="registry")


def test_the_cli_shares_and_pins(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(setup.project.root)
    result = CliRunner().invoke(
        app, ["promote", "m", "--from", "dev", "--to", "prod", "--via", "registry"]
    )
    assert result.exit_code == 0, result.output
    assert "through the Azure ML registry" in " ".join(result.output.split())  # wrapped
    assert "+        via: registry" in result.output
    stored = setup.service.registries.versions(setup.registry, "m")
    assert [json.dumps(v["properties"]["properties"]["mlstack.digest"]) for v in stored] == [
        json.dumps(setup.digest)
    ]


def test_the_preview_reads_back_what_the_registry_holds(setup: Setup) -> None:
    """What prod's preview checks a `via: registry` pin against (program.azure)."""
    assert registry_digest(setup.registry, "m", "1") is None
    promote(setup.project, "m", source="dev", target="prod", via="registry")
    assert registry_digest(setup.registry, "m", "1") == setup.digest
    with pytest.raises(NotFoundError, match="nowhere-registry"):
        registry_digest("nowhere-registry", "m", "1")


def test_an_unreachable_registry_says_so(setup: Setup) -> None:
    from azure.core.exceptions import ServiceRequestError  # noqa: PLC0415

    def unreachable(name: str) -> Any:
        raise ServiceRequestError("Connection refused")

    source, target = Stack(setup.project, "dev"), Stack(setup.project, "prod")
    via = RegistrySource(source, target, registry_of(source, target), opener=unreachable)
    with pytest.raises(PromotionError) as caught:
        via.lookup("m", "1")
    assert f"the Azure ML registry {setup.registry!r} cannot be reached (Connection refused)" in (
        str(caught.value)
    )
