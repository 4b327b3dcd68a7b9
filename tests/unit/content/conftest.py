"""The content tests' datastore: a fresh container of the session's Azurite per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.storage.blob import ContainerClient

from mlstack.content import calibration
from mlstack.content.blobstore import BlobEndpoint


@pytest.fixture
def container(endpoint: BlobEndpoint) -> Iterator[ContainerClient]:
    """A fresh container per test, so tests never see each other's blobs."""
    with endpoint.client() as service:
        client = service.create_container(f"t-{uuid.uuid4().hex[:16]}")
        yield client
        client.delete_container()


@pytest.fixture(autouse=True)
def no_remembered_costs() -> Iterator[None]:
    """Copy-or-send costs are remembered per endpoint and process: not across tests."""
    calibration.forget()
    yield
    calibration.forget()
