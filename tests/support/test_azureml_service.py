"""The loopback Azure ML service answers the real MLClient as Azure ML does.

Every client here is the real ``azure.ai.ml.MLClient`` with the real
``azure.identity.DefaultAzureCredential()``, configured only by ``azureml_service.env()``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.ai.ml import MLClient
from azure.ai.ml.constants import ListViewType
from azure.ai.ml.entities import Data, Environment, Model
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.identity import AzureCliCredential, DefaultAzureCredential

from mlstack.config.azure import AzureSettings
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.workspace import register_folder
from mlstack.workspace.azure import AzureMLWorkspace
from tests.support.azureml import AzureMLService, WorkspaceRef
from tests.support.azureml.network import network_log
from tests.support.fixtures import PAGE_SIZE

ROOT = Path(__file__).resolve().parents[2]
ASSETS_API, MODELS_API = "2023-04-01-preview", "2023-08-01-preview"


def client(ws: WorkspaceRef, credential: Any = None) -> MLClient:
    credential = credential or DefaultAzureCredential()
    return MLClient(credential, ws.subscription_id, ws.resource_group, ws.name)


def uri(ws: WorkspaceRef, path: str) -> str:
    return f"azureml://datastores/{ws.datastore}/paths/{path}/"


def arm(
    service: AzureMLService, method: str, path: str, body: Any = None, token: str | None = ""
) -> requests.Response:
    """A plain HTTPS request to the service (``token=None``: no Authorization header)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token or service.token}"}
    return requests.request(
        method, f"{service.url}{path}", params={"api-version": ASSETS_API}, json=body,
        headers=headers, verify=str(service.tls.ca_file), timeout=30,
    )  # fmt: skip


def test_data_versions_are_created_listed_paged_archived_and_restored(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str]
) -> None:
    ws, ml = azureml_workspace, client(azureml_workspace)
    count = PAGE_SIZE + 2
    for i in range(1, count + 1):
        ml.data.create_or_update(Data(name="images", version=str(i), path=uri(ws, f"v{i}")))
    azureml_service.clear_requests()

    listed = [d.version for d in ml.data.list("images")]

    assert listed == [str(i) for i in range(count, 0, -1)]  # newest first, both pages
    pages = [r for r in azureml_service.requests if r.path.endswith("/data/images/versions")]
    assert [r.query.get("$skip") for r in pages] == [None, str(PAGE_SIZE)]
    assert {r.api_version for r in pages} == {ASSETS_API}

    ml.data.archive("images", version=str(count))
    assert str(count) not in [d.version for d in ml.data.list("images")]
    archived = ml.data.list("images", list_view_type=ListViewType.ARCHIVED_ONLY)
    assert [d.version for d in archived] == [str(count)]
    assert len(list(ml.data.list("images", list_view_type=ListViewType.ALL))) == count
    stored = azureml_service.versions("data", ws, "images")
    assert [v["properties"]["isArchived"] for v in stored][-2:] == [False, True]
    assert stored[-1]["properties"]["dataUri"] == uri(ws, f"v{count}")  # archive kept the path

    container = arm(azureml_service, "GET", f"{ws.id}/data/images").json()["properties"]
    assert (container["latestVersion"], container["nextVersion"]) == (str(count), str(count + 1))
    ml.data.restore("images", version=str(count))
    assert len(list(ml.data.list("images"))) == count
    auto = ml.data.create_or_update(Data(name="images", path=uri(ws, "auto")))
    assert auto.version == str(count + 1)  # the container's nextVersion
    assert ml.data.get("images", version="3").path == uri(ws, "v3")
    assert [c.name for c in ml.data.list()] == ["images"]


def test_data_versions_are_write_once(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str]
) -> None:
    ws, ml = azureml_workspace, client(azureml_workspace)
    ml.data.create_or_update(Data(name="d", version="1", path=uri(ws, "a"), tags={"k": "1"}))

    with pytest.raises(HttpResponseError) as caught:
        ml.data.create_or_update(Data(name="d", version="1", path=uri(ws, "b")))

    # azure-ai-ml would raise AssetPathException if str(error) were exactly
    # "(UserError) Asset paths cannot be updated.", but azure-core appends Code/Message lines:
    # the caller gets the HttpResponseError itself.
    error = caught.value
    assert (error.status_code, error.error.code) == (400, "UserError")  # type: ignore[union-attr]
    assert error.error.message == "Asset paths cannot be updated."  # type: ignore[union-attr]
    assert str(error).startswith("(UserError) Asset paths cannot be updated.\n")

    again = ml.data.create_or_update(
        Data(name="d", version="1", path=uri(ws, "a"), description="new", tags={"k": "2"})
    )
    assert (again.path, again.description, again.tags) == (uri(ws, "a"), "new", {"k": "2"})

    refused = arm(azureml_service, "DELETE", f"{ws.id}/data/d/versions/1")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "UserError"
    assert ml.data.get("d", version="1").version == "1"


def test_model_versions_keep_their_path_and_latest_skips_archived(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str]
) -> None:
    ws, ml = azureml_workspace, client(azureml_workspace)
    first = ml.models.create_or_update(Model(name="digits", path=uri(ws, "m1")))
    second = ml.models.create_or_update(Model(name="digits", path=uri(ws, "m2"), stage="Staging"))
    assert (first.version, second.version) == ("1", "2")
    assert second.path.endswith(f"/workspaces/{ws.name}/datastores/{ws.datastore}/paths/m2/")
    assert {r.api_version for r in azureml_service.requests if "/models/" in r.path} == {MODELS_API}

    ml.models.archive("digits", version="2")
    assert ml.models.get("digits", label="latest").version == "1"
    assert [m.version for m in ml.models.list("digits")] == ["1"]
    ml.models.restore("digits", version="2")
    assert ml.models.get("digits", label="latest").version == "2"
    assert ml.models.get("digits", version="2").stage == "Staging"  # archiving kept it

    with pytest.raises(HttpResponseError) as caught:
        ml.models.create_or_update(Model(name="digits", version="1", path=uri(ws, "m3")))
    assert caught.value.status_code == 400
    assert caught.value.error.message == "Asset paths cannot be updated."  # type: ignore[union-attr]
    renamed = ml.models.create_or_update(
        Model(name="digits", version="1", path=uri(ws, "m1"), description="same files")
    )
    assert (renamed.description, renamed.version) == ("same files", "1")


def test_environment_content_changes_conflict_and_auto_versioning_moves_on(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str]
) -> None:
    ml = client(azureml_workspace)
    ml.environments.create_or_update(Environment(name="train", version="1", image="python:3.11"))

    with pytest.raises(ResourceExistsError) as caught:
        ml.environments.create_or_update(
            Environment(name="train", version="1", image="python:3.12")
        )
    assert caught.value.status_code == 409

    same = ml.environments.create_or_update(
        Environment(name="train", version="1", image="python:3.11", description="again")
    )
    assert (same.image, same.description) == ("python:3.11", "again")
    # No version: azure-ai-ml PUTs latestVersion, and on 409 the container's nextVersion.
    moved = ml.environments.create_or_update(Environment(name="train", image="python:3.12"))
    assert (moved.version, moved.image) == ("2", "python:3.12")
    ml.environments.archive("train", version="1")
    assert [e.version for e in ml.environments.list("train")] == ["2"]


def test_requests_without_the_issued_token_are_refused(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str]
) -> None:
    path = f"{azureml_workspace.id}/data/images/versions"
    missing = arm(azureml_service, "GET", path, token=None)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "AuthenticationFailed"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer ")
    assert arm(azureml_service, "GET", path, token="forged").status_code == 401
    assert arm(azureml_service, "GET", path).status_code == 200

    class Forged:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("forged", 2**31)

    with pytest.raises(ClientAuthenticationError):
        list(client(azureml_workspace, Forged()).data.list("images"))
    # The stand-in az hands out tokens for the service only, as the CLI does per audience.
    with pytest.raises(ClientAuthenticationError, match="AADSTS500011"):
        AzureCliCredential().get_token("https://storage.azure.com/.default")


def test_an_unknown_workspace_is_told_apart_from_an_unknown_asset(
    azureml_workspace: WorkspaceRef, azureml_env: dict[str, str]
) -> None:
    ws = azureml_workspace
    missing = WorkspaceRef(ws.subscription_id, ws.resource_group, "not-yet", "mlstack", "", ws.blob)
    nowhere = WorkspaceRef(ws.subscription_id, "rg-none", "not-yet", "mlstack", "", ws.blob)
    codes = []
    for target in (missing, nowhere, ws):
        with pytest.raises(ResourceNotFoundError) as caught:
            client(target).data.get("images", version="1")
        codes.append(caught.value.error.code)  # type: ignore[union-attr]
    assert codes == ["ParentResourceNotFound", "ResourceGroupNotFound", "UserError"]
    assert list(client(ws).data.list("images")) == []  # an unknown name lists empty


def test_datastores_resolve_as_mlclient_reads_them(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str]
) -> None:
    ws, ml = azureml_workspace, client(azureml_workspace)
    other = azureml_service.add_datastore(ws, "second", blob=ws.blob)

    default = ml.datastores.get_default(include_secrets=True)
    second = ml.datastores.get("second", include_secrets=True)

    assert (default.name, default.container_name) == (ws.datastore, ws.container)
    assert (second.name, second.container_name, second.account_name) == (
        "second", other, ws.blob.account,
    )  # fmt: skip
    assert second.credentials.account_key == ws.blob.key  # type: ignore[union-attr]
    assert sorted(d.name for d in ml.datastores.list()) == sorted([ws.datastore, "second"])
    with pytest.raises(ResourceNotFoundError):
        ml.datastores.get("third")
    secrets = [r for r in azureml_service.requests if r.path.endswith("/listSecrets")]
    assert secrets[-1].body == {"expirableSecret": True, "expireAfterHours": 1}


def test_two_workspaces_keep_their_content_in_two_storage_accounts(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str],
    second_account: BlobEndpoint,
) -> None:  # fmt: skip
    """What a promotion across accounts stands on: each workspace's datastore names its own
    Azurite account and key, and the accounts do not share containers."""
    dev = azureml_workspace
    prod = azureml_service.add_workspace(
        "99999999-8888-7777-6666-555555555555", f"{dev.resource_group}-prod", f"{dev.name}-prod",
        blob=second_account, datastore="mlstack",
    )  # fmt: skip
    resolved = []
    for ws in (dev, prod):
        store = client(ws).datastores.get_default(include_secrets=True)
        resolved.append((store.account_name, store.container_name, store.credentials.account_key))  # type: ignore[union-attr]
    assert resolved == [
        (dev.blob.account, dev.container, dev.blob.key),
        (second_account.account, prod.container, second_account.key),
    ]
    assert dev.blob.account != second_account.account
    names = {c.name for c in second_account.client().list_containers()}
    assert prod.container in names and dev.container not in names


def test_mlstack_registers_a_folder_end_to_end_on_loopback_only(
    azureml_service: AzureMLService,
    azureml_workspace: WorkspaceRef,
    azureml_env: dict[str, str],
    tmp_path: Path,
) -> None:
    ws = azureml_workspace
    files = {"a.txt": b"alpha\n", "sub/b.bin": bytes(range(64))}
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    manifest = Manifest.of(
        FileEntry(rel, len(data), hashlib.sha256(data).hexdigest()) for rel, data in files.items()
    )
    settings = AzureSettings(
        subscription_id=ws.subscription_id, resource_group=ws.resource_group,
        location="westeurope", workspace_name=ws.name, storage_account=ws.blob.account,
        key_vault="kv-loopback", container_registry="loopbackregistry", datastore_name=ws.datastore,
    )  # fmt: skip

    with network_log() as net:
        workspace = AzureMLWorkspace.connect(
            settings, DefaultAzureCredential(), blob_url=ws.blob.url
        )
        done = register_folder(
            workspace, "data", "images", tmp_path, manifest, type_="uri_folder", description="d"
        )
        found, new = done.version, done.new
        listed = workspace.list_data("images")
        read_back = workspace.data_manifest("images", "1")
        archived = workspace.set_data_archived("images", "1", archived=True)
        done = register_folder(
            workspace, "data", "images", tmp_path, manifest, type_="uri_folder", description="d"
        )
        again, again_new = done.version, done.new

    assert (found.version, new, found.digest) == ("1", True, manifest.digest)
    assert [(v.version, v.archived) for v in listed] == [("1", False)]
    assert read_back == manifest
    assert archived.archived
    assert (again.version, again_new, again.archived) == ("1", False, False)  # restored
    stored = azureml_service.versions("data", ws, "images")
    assert stored[0]["properties"]["dataUri"] == found.uri
    assert stored[0]["properties"]["properties"]["mlstack.digest"] == manifest.digest
    assert net.outside_loopback() == []
    assert "127.0.0.1" in net.hosts  # the log did see the traffic
    assert net.programs and set(net.programs) == {str(azureml_service.cli)}


_LIST_DATA = """
import json, sys
from azure.ai.ml import MLClient
from azure.ai.ml.constants import ListViewType
from azure.identity import DefaultAzureCredential
from tests.support.azureml.network import network_log
with network_log() as net:
    ml = MLClient(DefaultAzureCredential(), *sys.argv[1:4])
    versions = [d.version for d in ml.data.list(sys.argv[4], list_view_type=ListViewType.ALL)]
print(json.dumps({"versions": versions, "outside": net.outside_loopback()}))
"""


def test_a_subprocess_reaches_the_service_with_only_its_env(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef
) -> None:
    ws = azureml_workspace
    for version in ("1", "2"):
        body = {"properties": {"dataType": "uri_file", "dataUri": uri(ws, f"f{version}")}}
        put = arm(azureml_service, "PUT", f"{ws.id}/data/table/versions/{version}", body)
        assert put.status_code == 201, put.text
    assert "ARM_CLOUD_METADATA_URL" not in os.environ

    done = subprocess.run(
        [sys.executable, "-c", _LIST_DATA, ws.subscription_id, ws.resource_group, ws.name,
         "table"],
        env={**os.environ, **azureml_service.env()}, cwd=ROOT, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"versions": ["2", "1"], "outside": []}


def test_concurrent_requests_are_served_while_a_connection_idles(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef
) -> None:
    host, port = azureml_service.url.removeprefix("https://").split(":")
    path = f"{azureml_workspace.id}/datastores/{azureml_workspace.datastore}"
    idle = socket.create_connection((host, int(port)), timeout=10)  # never says hello
    with idle, ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: arm(azureml_service, "GET", path).status_code,
                                 range(24)))  # fmt: skip
    assert statuses == [200] * 24


def test_the_network_log_sees_and_refuses_every_other_host() -> None:
    """The guard the end-to-end tests rely on: it records, and refuses before any packet."""
    with network_log() as net:
        for host in ("login.microsoftonline.com", "169.254.169.254"):
            with pytest.raises(PermissionError, match="only loopback"):
                socket.create_connection((host, 443), timeout=1)
        socket.getaddrinfo("127.0.0.1", 443)
    assert net.outside_loopback() == [
        ("socket.getaddrinfo", "login.microsoftonline.com"),
        ("socket.getaddrinfo", "169.254.169.254"),
    ]
    assert net.hosts == {"login.microsoftonline.com", "169.254.169.254", "127.0.0.1"}


def test_a_fault_of_the_service_is_a_500_and_is_kept(
    azureml_service: AzureMLService,
    azureml_workspace: WorkspaceRef,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(request: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(azureml_service._router, "handle", broken)
    before = len(azureml_service.failures)
    answer = arm(azureml_service, "GET", f"{azureml_workspace.id}/data")
    assert answer.status_code == 500
    assert answer.json()["error"]["message"] == "loopback service bug: KeyError('boom')"
    assert "KeyError: 'boom'" in azureml_service.failures[-1]
    del azureml_service.failures[before:]  # expected here: the session teardown checks the rest


def test_component_versions_are_write_once_and_point_at_code_versions(
    azureml_service: AzureMLService, azureml_workspace: WorkspaceRef, azureml_env: dict[str, str]
) -> None:
    from azure.ai.ml.entities import CommandComponent  # noqa: PLC0415 - only this test
    from azure.ai.ml.entities._assets import Code  # noqa: PLC0415

    ws, ml = azureml_workspace, client(azureml_workspace)
    ml.environments.create_or_update(Environment(name="env", version="1", image="python:3.11"))
    code = ml._code.create_or_update(Code(name="c", version="1", path=uri(ws, "code")))
    with pytest.raises(HttpResponseError) as moved:
        ml._code.create_or_update(Code(name="c", version="1", path=uri(ws, "elsewhere")))
    assert moved.value.error.message == "Asset paths cannot be updated."  # type: ignore[union-attr]

    def component(command: str, **kw: Any) -> CommandComponent:
        return CommandComponent(name="train", version="1", command=command, code=code.id,
                                environment="env:1", **kw)  # fmt: skip

    created = ml.components.create_or_update(component("python train.py"))
    assert created.code.endswith("/codes/c/versions/1") and created.environment.endswith(
        "/environments/env/versions/1"
    )
    with pytest.raises(ResourceExistsError) as caught:
        ml.components.create_or_update(component("python other.py"))
    assert caught.value.status_code == 409
    again = ml.components.create_or_update(component("python train.py", description="same"))
    assert (again.version, again.description) == ("1", "same")

    ml.components.archive("train", version="1")
    assert [c.version for c in ml.components.list("train")] == []
    assert [c.version for c in ml.components.list("train", list_view_type=ListViewType.ALL)] == [
        "1"
    ]
