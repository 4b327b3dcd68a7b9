"""The storage accounts of the session's Azurite: the well-known one and a second.

Azurite serves several accounts from one instance when started with ``AZURITE_ACCOUNTS``
(``name:key;name:key``); copies between them are real cross-account Copy Blob from URL
requests, which Azurite authorises by reading the signed source URL, as Azure does.
"""

from __future__ import annotations

import base64

from mlstack.content.blobstore import BlobEndpoint
from mlstack.services.azurite import ACCOUNT, ACCOUNT_KEY, HOST

SECOND_ACCOUNT = "mlstackprod"
SECOND_KEY = base64.b64encode(b"mlstack second test account key, not a secret").decode()


def azurite_accounts() -> str:
    """``AZURITE_ACCOUNTS`` for the session's Azurite."""
    return f"{ACCOUNT}:{ACCOUNT_KEY};{SECOND_ACCOUNT}:{SECOND_KEY}"


def second_endpoint(port: int) -> BlobEndpoint:
    """The second account of the Azurite listening on ``port``."""
    url = f"http://{HOST}:{port}/{SECOND_ACCOUNT}"
    return BlobEndpoint(url=url, account=SECOND_ACCOUNT, key=SECOND_KEY)
