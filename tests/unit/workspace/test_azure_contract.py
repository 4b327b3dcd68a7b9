"""Contract tests of AzureMLWorkspace: the exact ARM requests it sends, with canned replies.

No test here reaches Azure. ARM calls go through azure-ai-ml's own pipeline into
``RequestsTransport(session=...)`` whose adapter records each request (method, path,
api-version, JSON body) and answers from a table of canned replies shaped as the service
answers. Blob I/O goes to the real Azurite of the test session: the canned datastore and
its ``listSecrets`` reply name the Azurite account and key, and the workspace is given
Azurite's URL (``blob_url``) in place of ``https://<account>.blob.core.windows.net``.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.ai.ml
import azure.identity
import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3 import HTTPResponse

from mlstack.config.azure import AzureSettings
from mlstack.config.locator import AzureLocator
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.transfer import marker_name
from mlstack.errors import ImmutableError, NotFoundError, WorkspaceError
from mlstack.workspace import azure as azure_backend
from mlstack.workspace import register_folder
from mlstack.workspace.asset import upload_prefix
from mlstack.workspace.azure import AzureMLWorkspace
from mlstack.workspace.azure_registry import service_errors

WS = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/mlstack-test"
    "/providers/Microsoft.MachineLearningServices/workspaces/mlstack-test"
)
ASSETS_API = "2023-04-01-preview"  # data and environments
MODELS_API = "2023-08-01-preview"
DATASTORES_API = "2024-10-01-preview"
CREATED = {"createdAt": "2025-03-04T05:06:07Z", "createdBy": "ci", "createdByType": "User"}

Reply = tuple[int, Any]
Key = tuple[str, str, str | None]


# -- the canned ARM service ----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request as the service received it; ``path`` is relative to the workspace."""

    method: str
    path: str
    query: dict[str, str]
    body: Any

    @property
    def key(self) -> Key:
        return self.method, self.path, self.query.get("listViewType")


class CannedArm(BaseAdapter):
    """Records every request and answers it from ``table``: (method, path, listViewType)
    → (status, JSON) or a function of the call; anything else is a 404, as ARM says."""

    def __init__(self) -> None:
        super().__init__()
        self.table: dict[Key, Reply | Callable[[Call], Reply]] = {}
        self.calls: list[Call] = []
        self._builder = HTTPAdapter()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(str(request.url))
        assert url.netloc == "management.azure.com", url
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body
        path = url.path.removeprefix(WS)
        call = Call(
            str(request.method),
            path,
            {k: v[0] for k, v in parse_qs(url.query).items()},
            json.loads(raw) if raw else None,
        )
        self.calls.append(call)
        reply = self.table.get(call.key) or self.table.get((call.method, path, None))
        status, payload = (
            (404, {"error": {"code": "UserError", "message": f"Not found: {path}"}})
            if reply is None
            else reply(call)
            if callable(reply)
            else reply
        )
        data = json.dumps(payload).encode()
        response = HTTPResponse(
            body=io.BytesIO(data),
            headers={"Content-Type": "application/json", "Content-Length": str(len(data))},
            status=status,
            preload_content=False,
        )
        return self._builder.build_response(request, response)

    def close(self) -> None:
        self._builder.close()

    def take(self) -> list[Call]:
        """The calls since the last take."""
        calls, self.calls = self.calls, []
        return calls


def keys(calls: list[Call]) -> list[Key]:
    return [c.key for c in calls]


def created(call: Call) -> Reply:
    """What the service answers to a PUT of a version: the body, plus id and system data."""
    body = json.loads(json.dumps(call.body))
    if "/models/" in call.path:
        body["properties"].setdefault("flavors", {})
    return 200, {"id": WS + call.path, "name": call.path.rsplit("/", 1)[1],
                 "systemData": CREATED, **body}  # fmt: skip


def as_listed(calls: list[Call]) -> dict[str, Any]:
    """The version listing the service would now return for the PUTs in ``calls``."""
    return {"value": [created(c)[1] for c in calls if c.method == "PUT"]}


def data_version(name: str, version: str, uri: str, **props: Any) -> dict[str, Any]:
    return {
        "id": f"{WS}/data/{name}/versions/{version}", "name": version, "systemData": CREATED,
        "properties": {"dataType": "uri_folder", "dataUri": uri, "description": "",
                       "tags": {}, "isArchived": False, "isAnonymous": False,
                       "properties": props},
    }  # fmt: skip


class Credential:
    """Any object with ``get_token()`` is a credential to MLClient."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("canned-token", 2**31)


SETTINGS = AzureSettings(
    subscription_id="11111111-2222-3333-4444-555555555555", resource_group="mlstack-test",
    location="westeurope", workspace_name="mlstack-test", storage_account="devstoreaccount1",
    key_vault="kv-mlstack-test", container_registry="mlstacktest", datastore_name="mlstack",
)  # fmt: skip


@pytest.fixture
def container(endpoint: BlobEndpoint) -> Iterator[str]:
    name = f"azureml-{uuid.uuid4().hex[:12]}"
    with endpoint.client() as service:
        service.create_container(name)
        yield name
        service.delete_container(name)


def datastore(endpoint: BlobEndpoint, container: str, credentials: str) -> dict[str, Any]:
    return {
        "id": f"{WS}/datastores/mlstack", "name": "mlstack", "systemData": CREATED,
        "type": "Microsoft.MachineLearningServices/workspaces/datastores",
        "properties": {"datastoreType": "AzureBlob", "accountName": endpoint.account,
                       "containerName": container, "endpoint": "core.windows.net",
                       "protocol": "https", "isDefault": False,
                       "credentials": {"credentialsType": credentials}},
    }  # fmt: skip


@pytest.fixture
def arm(endpoint: BlobEndpoint, container: str) -> CannedArm:
    """The canned service; its datastore is a key-based one in the Azurite container."""
    canned = CannedArm()
    canned.table[("GET", "/datastores/mlstack", None)] = (
        200,
        datastore(endpoint, container, "AccountKey"),
    )
    canned.table[("POST", "/datastores/mlstack/listSecrets", None)] = (
        200,
        {"secretsType": "AccountKey", "key": endpoint.key},
    )
    return canned


def connect(arm: CannedArm, endpoint: BlobEndpoint) -> AzureMLWorkspace:
    session = requests.Session()
    session.mount("https://", arm)
    return AzureMLWorkspace.connect(
        SETTINGS, Credential(), transport=RequestsTransport(session=session), blob_url=endpoint.url
    )


def route_clients(monkeypatch: pytest.MonkeyPatch, arm: CannedArm) -> list[AzureLocator]:
    """Send every ``MLClient`` mlstack builds into ``arm``, signed in with ``Credential``.

    The commands reach a workspace through ``open_workspace`` → :meth:`AzureMLWorkspace.at`
    (and the Azure-only rows through their own ``MLClient``); both run for real, only the
    transport and the credential are swapped. Returns the locators ``at`` was given.
    """
    real_client = azure.ai.ml.MLClient

    def client(*args: Any, **kwargs: Any) -> Any:
        session = requests.Session()
        session.mount("https://", arm)
        return real_client(*args, transport=RequestsTransport(session=session), **kwargs)

    monkeypatch.setattr(azure.ai.ml, "MLClient", client)
    monkeypatch.setattr(azure_backend, "MLClient", client)
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", Credential)
    opened: list[AzureLocator] = []
    real_at = AzureMLWorkspace.at

    def at(locator: AzureLocator, credential: Any) -> AzureMLWorkspace:
        opened.append(locator)
        return real_at(locator, credential)

    monkeypatch.setattr(AzureMLWorkspace, "at", staticmethod(at))
    return opened


def folder(root: Path, files: dict[str, bytes]) -> Manifest:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return Manifest.of(
        FileEntry(rel, len(data), hashlib.sha256(data).hexdigest()) for rel, data in files.items()
    )


def blobs(endpoint: BlobEndpoint, container: str) -> dict[str, str]:
    """Every blob in the container: name → etag."""
    with endpoint.client() as service:
        listed = service.get_container_client(container).list_blobs()
        return {b.name: str(b.etag) for b in listed}


FILES = {"a.txt": b"alpha\n", "sub/b.txt": b"bravo\n", "sub/c.bin": bytes(range(256))}


# -- data: the content flow ----------------------------------------------------------------


def test_register_folder_sends_the_versions_lookup_datastore_secrets_then_the_put(
    arm: CannedArm, endpoint: BlobEndpoint, container: str, tmp_path: Path
) -> None:
    m = folder(tmp_path, FILES)
    hexdigest = m.digest.removeprefix("sha256:")
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": []})
    arm.table[("PUT", "/data/images/versions/1", None)] = created
    ws = connect(arm, endpoint)

    done = register_folder(
        ws, "data", "images", tmp_path, m, type_="uri_folder", description="d", tags={"t": "1"}
    )
    found, new = done.version, done.new

    calls = arm.take()
    assert keys(calls) == [
        ("GET", "/data/images/versions", "All"),  # digest look-up: nothing yet
        ("GET", "/datastores/mlstack", None),
        ("POST", "/datastores/mlstack/listSecrets", None),
        # ... our upload to the datastore (Azurite) happens here ...
        ("PUT", "/data/images/versions/1", None),
    ]
    assert [c.query["api-version"] for c in calls] == [
        ASSETS_API,
        DATASTORES_API,
        DATASTORES_API,
        ASSETS_API,
    ]
    assert calls[2].body == {"expirableSecret": True, "expireAfterHours": 1}
    uri = f"azureml://datastores/mlstack/paths/LocalUpload/{hexdigest}/images/"
    assert calls[3].body == {
        "properties": {
            "dataUri": uri, "dataType": "uri_folder", "description": "d", "tags": {"t": "1"},
            "isAnonymous": False, "isArchived": False,
            "properties": {"mlstack.digest": m.digest, "mlstack.files": "3",
                           "mlstack.bytes": str(m.bytes)},
        }
    }  # fmt: skip
    assert new
    assert (found.version, found.uri, found.digest, found.files, found.bytes) == (
        "1",
        uri,
        m.digest,
        3,
        m.bytes,
    )
    assert (found.kind, found.type, found.archived) == ("data", "uri_folder", False)
    assert found.created_at == "2025-03-04T05:06:07+00:00"

    prefix = upload_prefix(m.digest, "images")
    stored = blobs(endpoint, container)
    assert sorted(stored) == sorted([*(f"{prefix}/{p}" for p in FILES), marker_name(prefix)])
    with endpoint.client() as service:
        for rel, data in FILES.items():
            blob = service.get_blob_client(container, f"{prefix}/{rel}")
            assert blob.download_blob().readall() == data
    # The manifest is read back from the completion marker the upload wrote last.
    arm.table[("GET", "/data/images/versions/1", None)] = created(calls[3])
    arm.table[("GET", "/data/images/versions", "ArchivedOnly")] = (200, {"value": []})
    assert ws.data_manifest("images", "1") == m


def test_same_content_again_uploads_nothing_and_puts_no_version(
    arm: CannedArm, endpoint: BlobEndpoint, container: str, tmp_path: Path
) -> None:
    m = folder(tmp_path, FILES)
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": []})
    arm.table[("PUT", "/data/images/versions/1", None)] = created
    register_folder(connect(arm, endpoint), "data", "images", tmp_path, m, type_="uri_folder")
    arm.table[("GET", "/data/images/versions", "All")] = (200, as_listed(arm.take()))
    arm.table[("GET", "/data/images/versions", "ArchivedOnly")] = (200, {"value": []})
    before = blobs(endpoint, container)

    ws = connect(arm, endpoint)
    done = register_folder(ws, "data", "images", tmp_path, m, type_="uri_folder")
    found, new = done.version, done.new

    assert keys(arm.take()) == [
        ("GET", "/data/images/versions", "All"),
        ("GET", "/data/images/versions", "ArchivedOnly"),
        ("GET", "/datastores/mlstack", None),
        ("POST", "/datastores/mlstack/listSecrets", None),
    ]  # no PUT: the version with this digest is returned
    assert (found.version, new) == ("1", False)
    assert blobs(endpoint, container) == before  # same names, same etags: nothing written
    assert done.transfer is not None
    assert done.transfer.uploaded_files == done.transfer.copied_files == 0


def test_changed_content_is_the_next_version_and_copies_known_files(
    arm: CannedArm, endpoint: BlobEndpoint, container: str, tmp_path: Path
) -> None:
    m1 = folder(tmp_path / "v1", FILES)
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": []})
    arm.table[("PUT", "/data/images/versions/1", None)] = created
    register_folder(connect(arm, endpoint), "data", "images", tmp_path / "v1", m1,
                                           type_="uri_folder")  # fmt: skip
    arm.table[("GET", "/data/images/versions", "All")] = (200, as_listed(arm.take()))
    arm.table[("GET", "/data/images/versions", "ArchivedOnly")] = (200, {"value": []})
    arm.table[("PUT", "/data/images/versions/2", None)] = created
    m2 = folder(tmp_path / "v2", {**FILES, "a.txt": b"alpha, edited\n"})

    ws = connect(arm, endpoint)
    done = register_folder(ws, "data", "images", tmp_path / "v2", m2, type_="uri_folder")
    found, new = done.version, done.new

    calls = arm.take()
    assert keys(calls) == [
        ("GET", "/data/images/versions", "All"),
        ("GET", "/data/images/versions", "ArchivedOnly"),
        ("GET", "/datastores/mlstack", None),
        ("POST", "/datastores/mlstack/listSecrets", None),
        ("PUT", "/data/images/versions/2", None),
    ]
    hexdigest = m2.digest.removeprefix("sha256:")
    assert calls[-1].body["properties"]["dataUri"] == (
        f"azureml://datastores/mlstack/paths/LocalUpload/{hexdigest}/images/"
    )
    assert (found.version, new) == ("2", True)
    report = done.transfer
    assert report is not None
    assert (report.uploaded_files, report.copied_files) == (1, 2)  # unchanged files: server-side


def test_a_conflicting_put_moves_to_the_next_version(
    arm: CannedArm, endpoint: BlobEndpoint, tmp_path: Path
) -> None:
    """Another writer took version 1 with other content meanwhile: the service refuses our
    PUT, and version 2 is tried."""
    m = folder(tmp_path, FILES)
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": []})
    arm.table[("PUT", "/data/images/versions/1", None)] = (
        400, {"error": {"code": "UserError", "message": "Asset paths cannot be updated."}},
    )  # fmt: skip
    arm.table[("PUT", "/data/images/versions/2", None)] = created

    done = register_folder(
        connect(arm, endpoint), "data", "images", tmp_path, m, type_="uri_folder"
    )
    found, new = done.version, done.new

    assert [k for k in keys(arm.take()) if k[0] == "PUT"] == [
        ("PUT", "/data/images/versions/1", None),
        ("PUT", "/data/images/versions/2", None),
    ]
    assert (found.version, new) == ("2", True)


def test_an_existing_version_with_another_path_is_immutable(
    arm: CannedArm, endpoint: BlobEndpoint
) -> None:
    old = "azureml://datastores/mlstack/paths/LocalUpload/aa/images/"
    arm.table[("GET", "/data/images/versions/1", None)] = (
        200, data_version("images", "1", old, **{"mlstack.digest": "sha256:aa"}),
    )  # fmt: skip
    arm.table[("GET", "/data/images/versions", "ArchivedOnly")] = (200, {"value": []})
    ws = connect(arm, endpoint)

    with pytest.raises(ImmutableError, match=r"data images:1: Asset paths cannot be updated\."):
        ws.data.register(
            "images",
            type_="uri_folder",
            digest="sha256:bb",
            version="1",
            uri="azureml://datastores/mlstack/paths/LocalUpload/bb/images/",
        )

    assert [c.method for c in arm.take()] == ["GET", "GET"]  # refused before any PUT


def test_the_services_refusal_of_a_put_is_surfaced(arm: CannedArm, endpoint: BlobEndpoint) -> None:
    """The explicit version did not exist when read, and the service refuses the PUT: 409
    reads as our immutable error; any other refusal carries the service's own message."""
    arm.table[("PUT", "/data/images/versions/7", None)] = (
        409, {"error": {"code": "Conflict", "message": "Version 7 was created concurrently."}},
    )  # fmt: skip
    arm.table[("PUT", "/data/images/versions/8", None)] = (
        400,
        {"error": {"code": "UserError", "message": "Tag values must be at most 256 characters."}},
    )
    ws = connect(arm, endpoint)
    uri = "azureml://datastores/mlstack/paths/LocalUpload/cc/images/"

    with pytest.raises(
        ImmutableError,
        match=r"data images:7: Asset paths cannot be updated\. .*"
        r"\(Azure ML: Version 7 was created concurrently\.\)",
    ):
        ws.data.register("images", type_="uri_folder", uri=uri, digest="sha256:cc", version="7")
    with pytest.raises(WorkspaceError, match="400: Tag values must be at most 256 characters"):
        ws.data.register("images", type_="uri_folder", uri=uri, digest="sha256:cc", version="8")

    assert keys(arm.take()) == [
        ("GET", "/data/images/versions/7", None),
        ("PUT", "/data/images/versions/7", None),
        ("GET", "/data/images/versions/8", None),
        ("PUT", "/data/images/versions/8", None),
    ]


def test_a_missing_version_is_not_found_in_local_wording(
    arm: CannedArm, endpoint: BlobEndpoint
) -> None:
    ws = connect(arm, endpoint)
    with pytest.raises(
        NotFoundError, match=r"^data asset images:9 does not exist in this workspace$"
    ):
        ws.get_data("images", "9")
    assert keys(arm.take()) == [("GET", "/data/images/versions/9", None)]


def test_archive_puts_the_version_back_archived_and_latest_skips_it(
    arm: CannedArm, endpoint: BlobEndpoint
) -> None:
    uri = "azureml://datastores/mlstack/paths/LocalUpload/aa/images/"
    v1 = data_version("images", "1", uri, **{"mlstack.digest": "sha256:aa"})
    v2 = data_version("images", "2", uri.replace("aa", "bb"), **{"mlstack.digest": "sha256:bb"})
    arm.table[("GET", "/data/images/versions/2", None)] = (200, v2)
    arm.table[("PUT", "/data/images/versions/2", None)] = created
    arm.table[("GET", "/data/images/versions", "ArchivedOnly")] = (200, {"value": [v2]})
    ws = connect(arm, endpoint)

    archived = ws.set_data_archived("images", "2", archived=True)

    calls = arm.take()
    assert keys(calls) == [
        ("GET", "/data/images/versions/2", None),
        ("PUT", "/data/images/versions/2", None),
        ("GET", "/data/images/versions/2", None),
        ("GET", "/data/images/versions", "ArchivedOnly"),
    ]
    assert calls[1].body["properties"]["isArchived"] is True
    assert calls[1].body["properties"]["dataUri"] == v2["properties"]["dataUri"]
    assert archived.archived

    # The container's latestVersion still names 2, which is archived: latest is 1.
    arm.table[("GET", "/data/images", None)] = (
        200, {"id": f"{WS}/data/images", "name": "images", "systemData": CREATED,
              "properties": {"latestVersion": "2", "nextVersion": "3", "dataType": "uri_folder"}},
    )  # fmt: skip
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": [v1, v2]})
    latest = ws.get_data("images")
    assert keys(arm.take()) == [
        ("GET", "/data/images", None),
        ("GET", "/data/images/versions/2", None),
        ("GET", "/data/images/versions", "ArchivedOnly"),
        ("GET", "/data/images/versions", "All"),
        ("GET", "/data/images/versions", "ArchivedOnly"),
    ]
    assert (latest.version, latest.archived, latest.digest) == ("1", False, "sha256:aa")


def test_a_sas_datastore_is_written_with_the_token_from_list_secrets(
    arm: CannedArm, endpoint: BlobEndpoint, container: str, tmp_path: Path
) -> None:
    sas = generate_account_sas(
        endpoint.account, endpoint.key, ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(read=True, write=True, list=True, create=True, add=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    arm.table[("GET", "/datastores/mlstack", None)] = (200, datastore(endpoint, container, "Sas"))
    arm.table[("POST", "/datastores/mlstack/listSecrets", None)] = (
        200, {"secretsType": "Sas", "sasToken": sas},
    )  # fmt: skip
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": []})
    arm.table[("PUT", "/data/images/versions/1", None)] = created
    m = folder(tmp_path, FILES)
    ws = connect(arm, endpoint)

    register_folder(ws, "data", "images", tmp_path, m, type_="uri_folder")

    assert ws.store.auth == "sas"
    assert sas not in repr(ws.store)
    assert ws.datastore == "mlstack"  # the name; ``store`` is the resolved datastore
    assert marker_name(upload_prefix(m.digest, "images")) in blobs(endpoint, container)


# -- models and environments ---------------------------------------------------------------


def test_register_model_folder_puts_a_model_version_with_its_stage_and_properties(
    arm: CannedArm, endpoint: BlobEndpoint, tmp_path: Path
) -> None:
    m = folder(tmp_path, {"model.pkl": b"\x80\x04model", "metrics.json": b"{}"})
    arm.table[("GET", "/models/digits/versions", "All")] = (200, {"value": []})
    arm.table[("PUT", "/models/digits/versions/1", None)] = created
    ws = connect(arm, endpoint)

    done = register_folder(ws,
        "model", "digits", tmp_path, m, type_="custom_model", stage="Staging",
        properties={"metrics": {"accuracy": 0.97}, "framework": "sklearn"},
    )  # fmt: skip
    found, new = done.version, done.new

    calls = arm.take()
    assert keys(calls) == [
        ("GET", "/models/digits/versions", "All"),
        ("GET", "/datastores/mlstack", None),
        ("POST", "/datastores/mlstack/listSecrets", None),
        # azure-ai-ml reads the newest version first (its evaluator check)
        ("GET", "/models/digits/versions", None),
        ("PUT", "/models/digits/versions/1", None),
    ]
    assert calls[3].query == {"api-version": MODELS_API, "$orderBy": "createdtime desc",
                              "$top": "1"}  # fmt: skip
    body = calls[4].body["properties"]
    hexdigest = m.digest.removeprefix("sha256:")
    # The SDK sends a datastore path in its long form.
    assert body["modelUri"] == (
        "azureml://subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/"
        f"mlstack-test/workspaces/mlstack-test/datastores/mlstack/paths/LocalUpload/{hexdigest}/digits/"
    )
    assert (body["modelType"], body["stage"]) == ("custom_model", "Staging")
    assert body["properties"] == {
        "framework": "sklearn", "metrics": '{"accuracy": 0.97}', "mlstack.json": "metrics",
        "mlstack.digest": m.digest, "mlstack.files": "2", "mlstack.bytes": str(m.bytes),
    }  # fmt: skip
    assert new
    assert found.uri == f"azureml://datastores/mlstack/paths/LocalUpload/{hexdigest}/digits/"
    assert found.properties == {"framework": "sklearn", "metrics": {"accuracy": 0.97}}
    assert (found.kind, found.stage, found.files) == ("model", "Staging", 2)


def test_register_environment_puts_image_and_conda_file(
    arm: CannedArm, endpoint: BlobEndpoint
) -> None:
    conda = {"name": "train", "dependencies": ["python=3.11", {"pip": ["scikit-learn==1.5.2"]}]}
    arm.table[("GET", "/environments/train/versions", "All")] = (200, {"value": []})
    arm.table[("PUT", "/environments/train/versions/1", None)] = created
    ws = connect(arm, endpoint)

    found, new = ws.environments.register(
        "train", type_="environment", uri="azureml:train", digest="sha256:ee",
        properties={"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", "conda": conda},
    )  # fmt: skip

    calls = arm.take()
    assert keys(calls) == [
        ("GET", "/environments/train/versions", "All"),
        ("PUT", "/environments/train/versions/1", None),
    ]
    assert calls[1].query["api-version"] == ASSETS_API
    body = calls[1].body["properties"]
    assert body["image"] == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
    assert body["condaFile"] == (
        "dependencies:\n- python=3.11\n- pip:\n  - scikit-learn==1.5.2\nname: train\n"
    )
    assert body["properties"] == {"mlstack.digest": "sha256:ee"}
    assert new
    assert found.properties["conda"] == conda
    assert (found.uri, found.type, found.files) == ("azureml:train", "environment", 0)


# -- list / show (issue 8, Azure side) -----------------------------------------------------


def test_list_and_show_return_what_the_service_holds(
    arm: CannedArm, endpoint: BlobEndpoint
) -> None:
    uri = "azureml://datastores/mlstack/paths/LocalUpload/{}/images/"
    props = {"mlstack.digest": "sha256:{}", "mlstack.files": "70000", "mlstack.bytes": "5000000"}
    d1 = data_version(
        "images", "1", uri.format("aa"), **{k: v.format("aa") for k, v in props.items()}
    )
    d2 = data_version(
        "images", "2", uri.format("bb"), **{k: v.format("bb") for k, v in props.items()}
    )
    d2["properties"] |= {"description": "second", "tags": {"split": "train"}}
    arm.table[("GET", "/data", "All")] = (
        200, {"value": [{"id": f"{WS}/data/images", "name": "images", "systemData": CREATED,
                         "properties": {"latestVersion": "2", "dataType": "uri_folder"}}]},
    )  # fmt: skip
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": [d2, d1]})
    arm.table[("GET", "/data/images/versions", "ArchivedOnly")] = (200, {"value": [d1]})
    model = {
        "id": f"{WS}/models/digits/versions/3", "name": "3", "systemData": CREATED,
        "properties": {"modelType": "mlflow_model", "flavors": {}, "stage": "Production",
                       "modelUri": "azureml://subscriptions/s/resourcegroups/r/workspaces/w/"
                                   "datastores/mlstack/paths/LocalUpload/cc/digits/",
                       "properties": {"mlstack.digest": "sha256:cc", "mlstack.files": "4",
                                      "mlstack.bytes": "1234", "mlstack.json": "metrics",
                                      "metrics": '{"accuracy": 0.97}'},
                       "tags": {}, "isArchived": False, "isAnonymous": False},
    }  # fmt: skip
    arm.table[("GET", "/models/digits/versions", "All")] = (200, {"value": [model]})
    arm.table[("GET", "/models/digits/versions", "ArchivedOnly")] = (200, {"value": []})
    arm.table[("GET", "/models/digits/versions/3", None)] = (200, model)
    env = {
        "id": f"{WS}/environments/train/versions/5", "name": "5", "systemData": CREATED,
        "properties": {"image": "python:3.11-slim", "condaFile": "name: train\n",
                       "properties": {"mlstack.digest": "sha256:ee"},
                       "isArchived": False, "isAnonymous": False},
    }  # fmt: skip
    arm.table[("GET", "/environments", "All")] = (
        200, {"value": [{"id": f"{WS}/environments/train", "name": "train",
                         "systemData": CREATED, "properties": {"latestVersion": "5"}}]},
    )  # fmt: skip
    arm.table[("GET", "/environments/train/versions", "All")] = (200, {"value": [env]})
    arm.table[("GET", "/environments/train/versions", "ArchivedOnly")] = (200, {"value": []})
    ws = connect(arm, endpoint)

    data = ws.list_data()
    assert keys(arm.take()) == [
        ("GET", "/data", "All"),
        ("GET", "/data/images/versions", "All"),
        ("GET", "/data/images/versions", "ArchivedOnly"),
    ]
    assert [(v.name, v.version, v.digest, v.files, v.bytes, v.archived) for v in data] == [
        ("images", "1", "sha256:aa", 70000, 5000000, True),
        ("images", "2", "sha256:bb", 70000, 5000000, False),
    ]
    assert (data[1].description, dict(data[1].tags)) == ("second", {"split": "train"})
    assert data[1].created_at == "2025-03-04T05:06:07+00:00"

    shown = ws.models.get("digits", "3")
    assert keys(arm.take()) == [
        ("GET", "/models/digits/versions/3", None),
        ("GET", "/models/digits/versions", "ArchivedOnly"),
    ]
    assert (shown.type, shown.stage, shown.digest, shown.files) == (
        "mlflow_model",
        "Production",
        "sha256:cc",
        4,
    )
    assert shown.uri == "azureml://datastores/mlstack/paths/LocalUpload/cc/digits/"
    assert shown.properties == {"metrics": {"accuracy": 0.97}}
    assert [v.version for v in ws.models.list("digits")] == ["3"]
    arm.take()

    envs = ws.environments.list()
    assert keys(arm.take()) == [
        ("GET", "/environments", "All"),
        ("GET", "/environments/train/versions", "All"),
        ("GET", "/environments/train/versions", "ArchivedOnly"),
    ]
    assert [(e.name, e.version, e.digest) for e in envs] == [("train", "5", "sha256:ee")]
    assert envs[0].properties == {"image": "python:3.11-slim", "conda": {"name": "train"}}


def test_no_datastore_request_until_content_is_needed(
    arm: CannedArm, endpoint: BlobEndpoint
) -> None:
    """Building the client and reading versions never reads the datastore or its secret."""
    arm.table[("GET", "/data/images/versions", "All")] = (200, {"value": []})
    ws = connect(arm, endpoint)
    assert arm.calls == []
    assert ws.list_data("images") == []
    assert keys(arm.take()) == [("GET", "/data/images/versions", "All")]


def test_an_unreachable_service_is_one_error_that_says_what_to_check() -> None:
    """After azure-core's own retries a refused connection reaches the user as one line."""
    with pytest.raises(WorkspaceError) as raised, service_errors("listing data asset images"):
        raise ServiceRequestError("Connection refused")
    assert str(raised.value).startswith(
        "listing data asset images: Azure ML could not be reached (ServiceRequestError: "
        "Connection refused): check the network"
    )
