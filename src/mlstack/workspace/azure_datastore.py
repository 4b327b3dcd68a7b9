"""An Azure ML datastore as our transfer layer sees it: a blob endpoint and a container.

azure-ai-ml resolves a datastore to ``https://<account>.blob.<suffix>`` and uploads through
a client of its own; mlstack moves content through :mod:`mlstack.content.transfer` instead,
so the datastore is read here (``GET datastores/<name>`` and, for key- or SAS-based
datastores, ``POST .../listSecrets``) and turned into a :class:`BlobEndpoint`. The blob URL
is built from the datastore's account, endpoint suffix and protocol unless ``blob_url`` is
given: sovereign clouds with custom domains, private endpoints, and the contract tests
(which point a canned datastore at Azurite) pass it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    AccountKeyConfiguration,
    AzureBlobDatastore,
    SasTokenConfiguration,
)

from mlstack.content.blobstore import BlobEndpoint
from mlstack.errors import WorkspaceError

__all__ = ["CredentialBlobEndpoint", "Datastore", "resolve_datastore"]


@dataclass(frozen=True)
class CredentialBlobEndpoint(BlobEndpoint):
    """A blob endpoint reached with a SAS token or an identity (token) credential.

    :class:`BlobEndpoint` signs with the account key; datastores that hold a SAS token, or
    none at all (identity-based access, the default mlstack declares), need another
    credential. ``key`` stays empty; ``credential`` is the SAS string or any object with
    ``get_token()``.
    """

    credential: Any = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:  # a SAS token is as secret as a key
        return f"CredentialBlobEndpoint(url={self.url!r}, account={self.account!r}, credential=***)"

    def credential_for_client(self) -> Any:
        return self.credential


@dataclass(frozen=True)
class Datastore:
    """A resolved blob datastore: its name (as ``azureml://`` URIs spell it) and storage."""

    name: str
    container: str
    endpoint: BlobEndpoint
    auth: str
    """``accountKey``, ``sas`` or ``identity``: how ``endpoint`` signs its requests."""


def blob_service_url(store: AzureBlobDatastore) -> str:
    """``<protocol>://<account>.blob.<suffix>``, the URL Azure serves the account on."""
    return f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"


def resolve_datastore(
    client: MLClient,
    name: str | None,
    identity: Any,
    blob_url: str | None = None,
) -> Datastore:
    """The datastore ``name`` (None: the workspace default) with credentials to write it.

    ``identity`` signs blob requests when the datastore keeps no secret (identity-based
    access): it then needs *Storage Blob Data Contributor* on the account.
    """
    ops = client.datastores
    store = ops.get(name, include_secrets=True) if name else ops.get_default(include_secrets=True)
    if not isinstance(store, AzureBlobDatastore):
        raise WorkspaceError(
            f"datastore {store.name!r} is a {store.type} datastore: mlstack stores asset "
            "content in an Azure Blob datastore; set `datastoreName` to one"
        )
    url = (blob_url or blob_service_url(store)).rstrip("/")
    account = str(store.account_name)
    creds = store.credentials
    endpoint: BlobEndpoint
    if isinstance(creds, AccountKeyConfiguration) and creds.account_key:
        endpoint, auth = BlobEndpoint(url, account, str(creds.account_key)), "accountKey"
    elif isinstance(creds, SasTokenConfiguration) and creds.sas_token:
        endpoint, auth = CredentialBlobEndpoint(url, account, "", str(creds.sas_token)), "sas"
    else:
        endpoint, auth = CredentialBlobEndpoint(url, account, "", identity), "identity"
    return Datastore(str(store.name), str(store.container_name), endpoint, auth)
