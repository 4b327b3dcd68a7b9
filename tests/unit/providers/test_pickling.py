"""Every dynamic provider travels through state by reference (its module and class name).

The engine stores each resource's provider dill-pickled in its state and unpickles it in
the provider host for every later operation, including the delete of a resource no
longer declared. By reference, an edit to a provider's module neither shows as a diff on
every resource nor leaves old code running from the state.
"""

from __future__ import annotations

import base64

import dill
import pytest
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from mlstack.components.azure_endpoints import EndpointTrafficProvider
from mlstack.providers.code import CodeFolderProvider
from mlstack.providers.component import ComponentVersionProvider
from mlstack.providers.data_asset import DataAssetProvider
from mlstack.providers.endpoint import LocalEndpointProvider
from mlstack.providers.environment import EnvironmentVersionProvider
from mlstack.providers.model_version import ModelVersionProvider
from mlstack.providers.promoted import PromotedDataProvider, PromotedModelProvider
from mlstack.providers.workspace import WorkspaceProvider

PROVIDERS = [
    WorkspaceProvider, DataAssetProvider, ModelVersionProvider, EnvironmentVersionProvider,
    PromotedDataProvider, PromotedModelProvider, LocalEndpointProvider, CodeFolderProvider,
    EndpointTrafficProvider, ComponentVersionProvider,
]  # fmt: skip


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_a_provider_unpickles_to_the_same_class_by_reference(cls: type[ResourceProvider]) -> None:
    text = serialize_provider(cls())
    blob = base64.b64decode(text)
    assert cls.__module__.encode() in blob and cls.__qualname__.encode() in blob
    assert len(blob) < 200  # a by-value pickle of the class and its methods is kilobytes
    loaded = dill.loads(blob)
    assert type(loaded) is cls  # the importable class itself, not a rebuilt copy
    assert serialize_provider(cls()) == text  # deterministic: no spurious diffs


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_a_provider_holds_no_state_of_its_own(cls: type[ResourceProvider]) -> None:
    """Where the workspace is and who signs in are found at run time, never pickled."""
    assert vars(cls()) == {}
