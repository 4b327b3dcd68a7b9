"""A short-lived read-only SAS on a source container, so another account can copy from it.

Copy Blob from URL across storage accounts is authorised by the *source* URL: the target
account fetches it itself, so no byte passes through the machine that asks, and the two
accounts may live in different subscriptions or tenants. How the SAS is made follows how
the source endpoint signs its own requests:

- a token credential (Azure sign-in, identity-based datastores): a **user-delegation SAS**
  (``Get User Delegation Key``, then the SAS signed with it). It is worth what the signed-in
  identity may read, no more, and needs *Storage Blob Delegator* (for the key) and
  *Storage Blob Data Reader* (for the reads) on the source account;
- an account key (``datastoreAuth: accountKey``, Azurite): an account-key service SAS;
- a SAS already (a SAS datastore): that SAS, as the datastore holds it.

The SAS lives :data:`SAS_LIFETIME` and is a secret like a key: it is handed to the copy
requests only, never returned in a report, an output, a message or a log line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from mlstack.content.blobstore import BlobEndpoint
from mlstack.errors import StorageAccessError, WorkspaceError

__all__ = ["DATA_READER", "DELEGATOR", "SAS_LIFETIME", "Signature", "read_signature", "role_fix"]

SAS_LIFETIME = timedelta(hours=1)
"""How long a copy SAS is valid: a promotion's copies start within minutes."""
CLOCK_SKEW = timedelta(minutes=5)
"""The SAS starts this much in the past, so a target account whose clock is behind accepts it."""
DATA_READER = "Storage Blob Data Reader"
DELEGATOR = "Storage Blob Delegator"


class Signature:
    """A SAS query string and how it was made; the token never shows in ``repr``/``str``."""

    def __init__(self, token: str, kind: str) -> None:
        self._token = token.lstrip("?")
        self.kind = kind
        """``user-delegation``, ``account-key`` or ``datastore``."""

    @property
    def token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return f"Signature(kind={self.kind!r}, token=***)"

    __str__ = __repr__


def role_fix(account: str, role: str, why: str) -> str:
    """The sentence and the exact ``az`` command that grant ``role`` on ``account``."""
    return (
        f"grant the identity that runs this {role!r} on storage account {account!r} ({why}), "
        f'e.g. `az role assignment create --assignee "$(az ad signed-in-user show --query id '
        f'-o tsv)" --role "{role}" --scope "$(az storage account show --name {account} '
        f'--query id -o tsv)"`, wait a minute for it to apply, and run again'
    )


def read_signature(
    endpoint: BlobEndpoint,
    container: str,
    *,
    lifetime: timedelta = SAS_LIFETIME,
    now: datetime | None = None,
) -> Signature:
    """A read-only SAS on ``container`` of ``endpoint``'s account, valid for ``lifetime``."""
    start = (now or datetime.now(UTC)) - CLOCK_SKEW
    expiry = start + CLOCK_SKEW + lifetime
    read = ContainerSasPermissions(read=True)
    if endpoint.key:
        token = generate_container_sas(
            endpoint.account, container, account_key=endpoint.key, permission=read,
            start=start, expiry=expiry,
        )  # fmt: skip
        return Signature(token, "account-key")
    credential: Any = getattr(endpoint, "credential", None)
    if isinstance(credential, str) and credential:
        return Signature(credential, "datastore")
    if credential is None or not hasattr(credential, "get_token"):
        raise WorkspaceError(
            f"storage account {endpoint.account!r} has neither a key, a SAS nor an Azure "
            "sign-in to sign a copy with: check the source datastore's credentials"
        )
    with endpoint.client(pool=1) as service:
        try:
            key = service.get_user_delegation_key(start, expiry)
        except HttpResponseError as error:
            if error.status_code == 403:
                fix = role_fix(endpoint.account, DELEGATOR, "to sign the server-side copy")
                raise StorageAccessError(
                    endpoint.account, DELEGATOR, f"Azure refused a user-delegation key on "
                    f"storage account {endpoint.account!r} (HTTP 403): {fix}",
                ) from None  # fmt: skip
            raise WorkspaceError(
                f"getting a user-delegation key on storage account {endpoint.account!r} failed: "
                f"HTTP {error.status_code}; check the account is reachable and run again"
            ) from None
    token = generate_container_sas(
        endpoint.account, container, user_delegation_key=key, permission=read,
        start=start, expiry=expiry,
    )  # fmt: skip
    return Signature(token, "user-delegation")
