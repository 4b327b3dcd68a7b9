"""The cloud the service plays: ARM cloud metadata, and a test CA for its HTTPS.

azure-ai-ml finds a cloud other than the public one through ``ARM_CLOUD_METADATA_URL``
(``azure/ai/ml/_azure_environments.py``): it GETs that URL with a bare pipeline, reads the
ARM ``/metadata/endpoints`` document (api-version 2019-05-01: a list of clouds with
``name``, ``portal``, ``resourceManager``, ``authentication.loginEndpoint`` and
``suffixes.storage``) and picks the cloud whose ``resourceManager`` is a prefix of the URL.
Every ARM request then goes to that ``resourceManager``, with the token scope
``<resourceManager>/.default``. No SDK model describes this document, so it is written here.

azure-core's bearer-token policy refuses plain http, so the service speaks HTTPS with a
certificate for 127.0.0.1 issued by a throwaway CA (``trustme``); clients trust that CA
through ``REQUESTS_CA_BUNDLE`` (requests, hence azure-core) and ``SSL_CERT_FILE`` (the
``ssl`` module's default context).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

CLOUD_NAME = "MlstackLoopback"
METADATA_PATH = "/metadata/endpoints"
METADATA_API = "2019-05-01"
STORAGE_SUFFIX = "core.windows.net"
"""The storage suffix datastores report. Nothing resolves ``<account>.blob.<suffix>``:
callers pass the Azurite URL as ``blob_url``."""


def metadata_url(base_url: str) -> str:
    """What ``ARM_CLOUD_METADATA_URL`` says: the metadata document on the service itself."""
    return f"{base_url}{METADATA_PATH}?api-version={METADATA_API}"


def cloud_metadata(base_url: str) -> list[dict[str, Any]]:
    """The ARM cloud metadata document: one cloud whose every endpoint is the service."""
    root = f"{base_url}/"
    return [
        {
            "name": CLOUD_NAME,
            "portal": f"{root}portal/",
            "resourceManager": root,
            "authentication": {
                "loginEndpoint": root,
                "audiences": [root],
                "tenant": "common",
                "identityProvider": "AAD",
            },
            "suffixes": {"storage": STORAGE_SUFFIX},
        }
    ]


@dataclass(frozen=True)
class Tls:
    """A CA file clients trust and the server side of a certificate for 127.0.0.1."""

    ca_file: Path
    context: ssl.SSLContext

    @classmethod
    def create(cls, folder: Path) -> Tls:
        ca = trustme.CA(organization_name="mlstack loopback Azure ML (tests only)")
        certificate = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        ca_file = folder / "loopback-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        return cls(ca_file, context)
