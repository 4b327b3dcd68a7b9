"""How mlstack reaches a blob store: one endpoint value and one way to build a client.

Azurite rejects the API version that azure-storage-blob 12.31 sends by default, so every
client is pinned to an older version both Azurite and Azure accept. Clients are built on
demand and never stored on long-lived objects (dynamic providers are pickled).
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient

API_VERSION = "2025-11-05"


@dataclass(frozen=True)
class BlobEndpoint:
    """A storage account's blob service: URL, account name and (secret) account key."""

    url: str
    account: str
    key: str

    def __repr__(self) -> str:  # the key must never reach logs or tracebacks
        return f"BlobEndpoint(url={self.url!r}, account={self.account!r}, key=***)"

    def client(self, *, pool: int = 10, retries: int = 3) -> BlobServiceClient:
        """A client whose connection pool is sized for ``pool`` concurrent requests.

        ``retries`` covers transient failures; readiness probes pass 0 to fail fast.
        """
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return BlobServiceClient(
            account_url=self.url,
            credential={"account_name": self.account, "account_key": self.key},
            api_version=API_VERSION,
            transport=RequestsTransport(session=session, session_owner=True),
            retry_total=retries,
        )
