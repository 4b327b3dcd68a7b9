"""Bearer tokens, and the stand-in ``az`` that hands them to the real credential chain.

Route: ``AZURE_TOKEN_CREDENTIALS=AzureCliCredential`` makes the real
``azure.identity.DefaultAzureCredential()`` (azure-identity >= 1.27) build a chain of
``AzureCliCredential`` alone, so it never probes IMDS (169.254.169.254) nor reads a token
cache; ``AzureCliCredential`` runs ``shutil.which("az")`` with ``account get-access-token
--output json --resource <scope without /.default>`` and parses the JSON. The service
writes an ``az`` shell script into a folder of its own that comes first on ``PATH``: it
prints that JSON for the service's own resource and fails, as the CLI does with
``AADSTS500011``, for any other. Neither the credential nor the script opens a socket.

The other route, ``EnvironmentCredential`` with ``AZURE_AUTHORITY_HOST`` at the service,
goes through MSAL, which discovers the authority (OpenID configuration, instance
discovery) before it asks for a token; proving that it stays on loopback would mean
serving MSAL's discovery protocol too. The CLI route needs no HTTP at all.

The token looks like an Entra ID access token (a JWT whose ``aud`` is the service), but
the service only checks that it is the one it issued.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.azureml.errors import ServiceError

TENANT = "72f988bf-0000-4000-8000-00000000cafe"
USER = "loopback-user@example.test"
LIFETIME = 24 * 3600
SHARE_AUDIENCES = ("https://ml.azure.com", "https://management.azure.com")
"""Inside ``models.share`` azure-ai-ml builds its registry clients without the cloud's
settings (``_set_registry_client`` → ``get_registry_client(credential, name)``), so it asks
for the public cloud's audiences whatever the cloud: Azure ML's data plane (registry
discovery) and ARM (the registry's data plane). The stand-in ``az`` answers them with the
service's one token, as Entra ID would issue one for each; the requests still go to the
discovered (loopback) URLs."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issue_token(resource: str, expires_on: int) -> str:
    """A JWT-shaped access token for ``resource`` (unsigned: nobody verifies it)."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "loopback"}
    claims = {
        "aud": resource,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": int(time.time()),
        "exp": expires_on,
        "tid": TENANT,
        "oid": "00000000-0000-4000-8000-00000000beef",
        "upn": USER,
        "name": "Loopback User",
    }
    parts = (json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(32))
    return ".".join(_b64(part) for part in parts)


_AZ_SCRIPT = """#!/bin/sh
# Stand-in for the Azure CLI, written by the loopback Azure ML service (tests only).
# It answers `az account get-access-token --resource <the service>` as the CLI does.
if [ "$1 $2" != "account get-access-token" ]; then
  echo "ERROR: this stand-in az only answers 'az account get-access-token'" >&2
  exit 2
fi
resource=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--resource" ] && [ $# -gt 1 ]; then resource="$2"; fi
  shift
done
case "$resource" in
  '{resource}'|'{resource}/'|{share_audiences}) ;;
  *)
    echo "ERROR: AADSTS500011: The resource principal named $resource was not found" \
      "in the tenant named {tenant}." >&2
    exit 1
    ;;
esac
cat <<'JSON'
{payload}
JSON
"""


@dataclass(frozen=True)
class Authority:
    """Issues the service's one token and checks ``Authorization`` headers against it."""

    resource: str
    token: str
    expires_on: int

    @classmethod
    def create(cls, resource: str) -> Authority:
        expires_on = int(time.time()) + LIFETIME
        return cls(resource, issue_token(resource, expires_on), expires_on)

    def cli_output(self) -> dict[str, object]:
        """What ``az account get-access-token --output json`` prints."""
        return {
            "accessToken": self.token,
            "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(self.expires_on)),
            "expires_on": self.expires_on,
            "subscription": "",
            "tenant": TENANT,
            "tokenType": "Bearer",
        }

    def write_cli(self, folder: Path) -> Path:
        """The stand-in ``az`` in ``folder`` (put ``folder`` first on ``PATH``)."""
        folder.mkdir(parents=True, exist_ok=True)
        script = folder / "az"
        payload = json.dumps(self.cli_output(), indent=2)
        script.write_text(
            _AZ_SCRIPT.replace("{resource}", self.resource)
            .replace("{share_audiences}", "|".join(f"'{a}'|'{a}/'" for a in SHARE_AUDIENCES))
            .replace("{tenant}", TENANT)
            .replace("{payload}", payload)
        )
        script.chmod(0o755)
        return script

    def check(self, authorization: str | None) -> None:
        """Refuse, as ARM does (401 ``AuthenticationFailed``), a missing or foreign token."""
        if not authorization:
            raise ServiceError(
                401, "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )  # fmt: skip
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ServiceError(
                401, "InvalidAuthenticationToken",
                "The access token is missing or invalid: the 'Authorization' header must be "
                "'Bearer <token>'.",
            )  # fmt: skip
        if token.strip() != self.token:
            raise ServiceError(
                401, "InvalidAuthenticationToken",
                "The access token is invalid: it was not issued for this service.",
            )  # fmt: skip

    def challenge(self, error: ServiceError) -> str:
        """The ``WWW-Authenticate`` header ARM sends with a 401 (no claims: no CAE retry)."""
        return (
            f'Bearer authorization_uri="{self.resource}/", error="invalid_token", '
            f'error_description="{error.message}"'
        )
