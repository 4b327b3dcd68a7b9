"""The service's refusals, answered as ARM error bodies built with the SDK's ``ErrorResponse``.

ARM wraps every failure as ``{"error": {"code", "message"}}``; azure-core parses that body
(``ARMErrorFormat``) into the exception azure-ai-ml raises, and maps the status onto its
exception classes (401 ``ClientAuthenticationError``, 404 ``ResourceNotFoundError``, 409
``ResourceExistsError``, anything else ``HttpResponseError``).
"""

from __future__ import annotations

from typing import Any

from azure.ai.ml._restclient.arm_ml_service import models as rest

ASSET_PATHS = "Asset paths cannot be updated."
"""The service's words for a changed path on an existing version (azure-ai-ml compares
``str(error)`` with ``"(UserError) Asset paths cannot be updated."``: code and message)."""


class ServiceError(Exception):
    """A refusal: HTTP status, ARM error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        detail = rest.ErrorDetail({"code": self.code, "message": self.message})
        return rest.ErrorResponse(error=detail).as_dict()


def user_error(message: str, status: int = 400) -> ServiceError:
    """Azure ML reports what the caller got wrong with the code ``UserError``."""
    return ServiceError(status, "UserError", message)


def not_found(message: str) -> ServiceError:
    return user_error(message, 404)


def conflict(message: str) -> ServiceError:
    return ServiceError(409, "Conflict", message)
