"""How mlstack reaches a blob store: one endpoint value and one way to build a client.

Azurite rejects the API version that azure-storage-blob 12.31 sends by default, so every
client is pinned to an older version both Azurite and Azure accept. Clients are built on
demand and never stored on long-lived objects (dynamic providers are pickled).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # azure-storage-blob costs ~0.3 s to import: only clients need it
    from azure.storage.blob import BlobServiceClient

API_VERSION = "2025-11-05"
MIB = 1024 * 1024


@dataclass(frozen=True)
class BlobEndpoint:
    """A storage account's blob service: URL, account name and (secret) account key."""

    url: str
    account: str
    key: str

    def __repr__(self) -> str:  # the key must never reach logs or tracebacks
        return f"BlobEndpoint(url={self.url!r}, account={self.account!r}, key=***)"

    def credential_for_client(self) -> Any:
        """What signs this endpoint's requests: the account key (subclasses: SAS, token)."""
        return {"account_name": self.account, "account_key": self.key}

    def client(
        self,
        *,
        pool: int = 10,
        retries: int = 3,
        max_single_put_size: int = 64 * MIB,
        max_block_size: int = 4 * MIB,
        max_single_get_size: int = 32 * MIB,
        max_chunk_get_size: int = 4 * MIB,
    ) -> BlobServiceClient:
        """A client whose connection pool is sized for ``pool`` concurrent requests.

        ``retries`` covers transient failures; readiness probes pass 0 to fail fast. The
        ``max_*`` sizes are the SDK's transfer settings, with the SDK's defaults: an upload
        up to ``max_single_put_size`` goes in one PUT (larger ones in ``max_block_size``
        blocks), and a download fetches ``max_single_get_size`` first, then
        ``max_chunk_get_size`` chunks.
        """
        import requests  # noqa: PLC0415 - see TYPE_CHECKING above
        from azure.core.pipeline.transport import RequestsTransport  # noqa: PLC0415
        from azure.storage.blob import BlobServiceClient  # noqa: PLC0415

        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # requests looks up proxies, CA bundle and netrc in the environment on every
        # request, a tenth of an upload's client CPU: read once here for the one host this
        # client talks to. netrc stays out (its Basic auth would replace our Authorization).
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(self.url)
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        return BlobServiceClient(
            account_url=self.url,
            credential=self.credential_for_client(),
            api_version=API_VERSION,
            transport=RequestsTransport(
                session=session, session_owner=True, connection_verify=ca_bundle or True
            ),
            retry_total=retries,
            max_single_put_size=max_single_put_size,
            max_block_size=max_block_size,
            max_single_get_size=max_single_get_size,
            max_chunk_get_size=max_chunk_get_size,
        )
