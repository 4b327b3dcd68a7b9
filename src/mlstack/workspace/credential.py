"""The Azure sign-in mlstack uses: ``DefaultAzureCredential``, made where it is used.

A credential is never part of a resource's inputs or state: each process that talks to
Azure (the program at preview, a provider at ``pulumi up``, the CLI) creates its own, so
whoever runs ``pulumi`` signs in as themselves (``az login``, a service principal in
``AZURE_CLIENT_*``, a managed identity, workload identity in CI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlstack.errors import WorkspaceError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken

__all__ = ["LoginCredential", "default_credential"]


class LoginCredential:
    """A token credential whose sign-in failure reads as one line: run `az login`.

    ``DefaultAzureCredential`` explains a failure with one paragraph per credential it
    tried; the user needs only the fix. The error is raised inside the request pipeline
    and, being an ``MlstackError``, passes through the backend's error translation as is.
    """

    def __init__(self, inner: Any, where: str) -> None:
        self._inner = inner
        self._where = where

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.exceptions import ClientAuthenticationError  # noqa: PLC0415

        try:
            token: AccessToken = self._inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as error:
            raise WorkspaceError(
                f"cannot sign in to Azure for {self._where}: run `az login` (or set "
                "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET) and try again"
            ) from error
        return token


def default_credential(where: str) -> LoginCredential:
    """``DefaultAzureCredential`` for ``where`` (named in the sign-in error)."""
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - slow, Azure only

    return LoginCredential(DefaultAzureCredential(), where)
