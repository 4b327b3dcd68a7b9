"""Fixtures of the test support services (registered by ``tests/conftest.py``).

``azureml_service`` is one loopback Azure ML service for the whole session (like the
``azurite`` fixture, whose account holds the blobs). Each test that needs a workspace takes
``azureml_workspace``: a fresh one, in a resource group of its own, whose default datastore
is a new container in Azurite. ``azureml_env`` applies the service's environment to this
process for the test (a subprocess gets ``{**os.environ, **azureml_service.env()}``).
``second_account`` is another storage account of the same Azurite, for workspaces whose
datastores must be in two accounts (promotion copies across them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from mlstack.content.blobstore import BlobEndpoint
from mlstack.services.azurite import ServiceState
from tests.support.accounts import second_endpoint

if TYPE_CHECKING:  # imported in the fixture: azure-ai-ml's models take seconds to load
    from tests.support.azureml import AzureMLService, WorkspaceRef

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
PAGE_SIZE = 10
"""Small, so that MLClient follows ``nextLink`` wherever a test lists more than this."""


@pytest.fixture(scope="session")
def azureml_service() -> Iterator[AzureMLService]:
    """The loopback Azure ML service, started once and stopped at the end."""
    from tests.support.azureml import AzureMLService  # noqa: PLC0415 - only tests using it pay

    service = AzureMLService(page_size=PAGE_SIZE).start()
    yield service
    service.stop()
    assert service.failures == [], "the loopback service failed on requests:\n" + "\n".join(
        service.failures
    )


@pytest.fixture
def azureml_workspace(azureml_service: AzureMLService, azurite: ServiceState) -> WorkspaceRef:
    """A new workspace whose default datastore ``mlstack`` is a new Azurite container."""
    suffix = uuid.uuid4().hex[:8]
    return azureml_service.add_workspace(
        SUBSCRIPTION, f"rg-{suffix}", f"ws-{suffix}", blob=azurite.endpoint, datastore="mlstack"
    )


@pytest.fixture
def azureml_env(azureml_service: AzureMLService, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The service's environment, set in this process for one test and restored after."""
    env = azureml_service.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def second_account(azurite: ServiceState) -> BlobEndpoint:
    """The second storage account of the session's Azurite (``tests/support/accounts.py``)."""
    return second_endpoint(azurite.port)
