"""endpoint-auth: every endpoint authenticates its callers, with a key or a token.

``properties.authMode`` of online, batch and serverless endpoints must be a key or an
Azure ML / Entra ID token; a missing mode or any other value (``None``) lets anyone who can
reach the endpoint call the model.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlstack_policy.resource import (
    BATCH_ENDPOINT,
    ONLINE_ENDPOINT,
    SERVERLESS_ENDPOINT,
    Resource,
)
from mlstack_policy.rule import Rule
from mlstack_policy.settings import Settings

ENDPOINTS = frozenset({ONLINE_ENDPOINT, BATCH_ENDPOINT, SERVERLESS_ENDPOINT})
ALLOWED = ("Key", "AMLToken", "AADToken")


def check(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type not in ENDPOINTS:
        return
    mode = resource.get("properties", "authMode")
    if isinstance(mode, str) and mode.casefold() in {a.casefold() for a in ALLOWED}:
        return
    shown = "no auth mode" if mode is None else f"auth mode {mode!r}"
    name = resource.get("endpointName") or resource.name
    yield (
        f"{resource.label} declares {shown}, so callers are not authenticated. Fix: set "
        f"`auth_mode: key` (or `aml_token`, `aad_token`) in assets/endpoints/{name}.yaml."
    )


RULE = Rule(
    "endpoint-auth",
    "Endpoints authenticate callers with a key or an AML/AAD token, never none.",
    check,
    prod_only=True,
)
