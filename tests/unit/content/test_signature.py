"""The copy SAS: which kind each source endpoint gets, what it allows, and a 403's message.

The account-key SAS is checked against the session's real Azurite (it reads, it does not
write). The user-delegation SAS is a contract test: azure-storage-blob's real client, signed
in with a token credential, against a canned blob service that records the request and
answers as Azure does (the key, or a 403).
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobClient, BlobServiceClient
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3 import HTTPResponse

from mlstack.content.blobstore import API_VERSION, BlobEndpoint
from mlstack.content.signature import SAS_LIFETIME, read_signature
from mlstack.errors import StorageAccessError
from mlstack.workspace.azure_datastore import CredentialBlobEndpoint

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DELEGATION_KEY = """<?xml version="1.0" encoding="utf-8"?><UserDelegationKey>
<SignedOid>0b0b0b0b-oid</SignedOid><SignedTid>0c0c0c0c-tid</SignedTid>
<SignedStart>2026-11-30T11:55:00Z</SignedStart><SignedExpiry>2026-11-30T13:00:00Z</SignedExpiry>
<SignedService>b</SignedService><SignedVersion>2025-11-05</SignedVersion>
<Value>a2V5IG9mIHRoZSBkZWxlZ2F0aW9u</Value></UserDelegationKey>"""
DENIED = """<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch
</Code><Message>This request is not authorized to perform this operation using this
permission.</Message></Error>"""


class Token:
    """A signed-in identity (anything with ``get_token`` is a credential)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("identity-token", int(NOW.timestamp()) + 3600)


class CannedBlob(BaseAdapter):
    """Answers Get User Delegation Key with ``status`` (200: a key, 403: Azure's refusal)."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status
        self.requests: list[requests.PreparedRequest] = []
        self._builder = HTTPAdapter()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requests.append(request)
        body = (DELEGATION_KEY if self.status == 200 else DENIED).encode()
        headers = {"Content-Type": "application/xml", "Content-Length": str(len(body))}
        if self.status == 403:
            headers["x-ms-error-code"] = "AuthorizationPermissionMismatch"
        raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=self.status,
                           preload_content=False)  # fmt: skip
        return self._builder.build_response(request, raw)

    def close(self) -> None:
        self._builder.close()


@dataclass(frozen=True)
class CannedEndpoint(CredentialBlobEndpoint):
    """An identity-signed endpoint whose client talks to ``adapter``."""

    adapter: Any = field(default=None, repr=False, compare=False)

    def client(self, **_: Any) -> BlobServiceClient:
        session = requests.Session()
        session.mount("https://", self.adapter)
        return BlobServiceClient(
            self.url, credential=self.credential, api_version=API_VERSION,
            transport=RequestsTransport(session=session, session_owner=True), retry_total=0,
        )  # fmt: skip


def _query(token: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(token).items()}


def test_an_account_key_signs_a_service_sas_that_reads_and_cannot_write(
    endpoint: BlobEndpoint,
) -> None:
    container = endpoint.client().create_container(f"sas-{uuid.uuid4().hex[:12]}")
    container.upload_blob("a.txt", b"content")
    signature = read_signature(endpoint, container.container_name)
    assert signature.kind == "account-key"
    assert signature.token not in repr(signature) and signature.token not in str(signature)
    query = _query(signature.token)
    assert (query["sr"], query["sp"]) == ("c", "r")
    lifetime = datetime.fromisoformat(query["se"]) - datetime.fromisoformat(query["st"])
    assert timedelta(0) < lifetime <= SAS_LIFETIME + timedelta(minutes=5)

    url = f"{endpoint.url}/{container.container_name}/a.txt?{signature.token}"
    blob = BlobClient.from_blob_url(url, api_version=API_VERSION)
    assert blob.download_blob().readall() == b"content"
    with pytest.raises(HttpResponseError) as refused:
        blob.upload_blob(b"changed", overwrite=True)
    assert refused.value.status_code == 403
    container.delete_container()


def test_a_datastore_that_holds_a_sas_lends_it() -> None:
    held = "sv=2025-11-05&sr=c&sp=rl&sig=aGVsZA%3D%3D"
    store = CredentialBlobEndpoint("https://dev.blob.core.windows.net", "dev", "", held)
    signature = read_signature(store, "data")
    assert (signature.kind, signature.token) == ("datastore", held)


def test_a_signed_in_identity_gets_a_user_delegation_sas() -> None:
    canned = CannedBlob(200)
    store = CannedEndpoint("https://dev.blob.core.windows.net", "dev", "", Token(), canned)
    signature = read_signature(store, "azureml-blobstore", now=NOW)

    [request] = canned.requests
    url = urlsplit(str(request.url))
    assert (request.method, url.netloc, url.path) == ("POST", "dev.blob.core.windows.net", "/")
    assert _query(url.query) == {"restype": "service", "comp": "userdelegationkey"}
    assert request.headers["Authorization"] == "Bearer identity-token"
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
    assert "<Start>2026-11-30T11:55:00Z</Start><Expiry>2026-11-30T13:00:00Z</Expiry>" in body

    assert signature.kind == "user-delegation"
    query = _query(signature.token)
    assert (query["sr"], query["sp"], query["skoid"], query["sktid"]) == (
        "c", "r", "0b0b0b0b-oid", "0c0c0c0c-tid",
    )  # fmt: skip
    assert (query["st"], query["se"]) == ("2026-11-30T11:55:00Z", "2026-11-30T13:00:00Z")
    assert query["sig"]


def test_an_identity_without_the_delegator_role_is_told_which_role_and_how() -> None:
    store = CannedEndpoint("https://dev.blob.core.windows.net", "dev", "", Token(), CannedBlob(403))
    with pytest.raises(StorageAccessError) as caught:
        read_signature(store, "azureml-blobstore", now=NOW)
    assert (caught.value.account, caught.value.role) == ("dev", "Storage Blob Delegator")
    message = str(caught.value)
    assert message.startswith("Azure refused a user-delegation key on storage account 'dev'")
    assert (
        'az role assignment create --assignee "$(az ad signed-in-user show --query id -o tsv)" '
        '--role "Storage Blob Delegator" --scope "$(az storage account show --name dev '
        '--query id -o tsv)"'
    ) in message
