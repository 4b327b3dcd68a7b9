"""Opening a workspace from its locator: the home and the sign-in are found at run time.

Nothing here sends a request: building either backend is free, and the local one reads
its catalog only. ``EmptyWorkspace`` is what a preview plans against before the
workspace exists.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import azure.identity
import pytest
from azure.core.credentials import AccessToken
from azure.identity import CredentialUnavailableError

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.errors import NotFoundError, WorkspaceError
from mlstack.project import HOME_ENV, Project
from mlstack.workspace import EmptyWorkspace, open_workspace
from mlstack.workspace.asset import DATASTORE
from mlstack.workspace.azure import AzureMLWorkspace
from mlstack.workspace.local import LocalWorkspace, catalog_path
from mlstack.workspace.open import open_emulated, open_local
from tests.unit.workspace.test_azure_contract import CannedArm, datastore, route_clients

DIGEST = "sha256:" + "a" * 64


def no_blob_storage() -> BlobEndpoint:
    raise AssertionError("opening or reading a workspace must not reach blob storage")


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project in the working directory, with no MLSTACK_HOME set."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "Pulumi.yaml").write_text("name: unit\nruntime: python\n")
    monkeypatch.chdir(tmp_path / "proj")
    monkeypatch.delenv(HOME_ENV, raising=False)
    return Project(tmp_path / "proj")


def _catalog(ws: object) -> Path:
    assert isinstance(ws, LocalWorkspace)
    return ws.catalog.path


# -- local ---------------------------------------------------------------------------------


def test_a_local_locator_opens_the_catalog_under_the_given_home(tmp_path: Path) -> None:
    ws = open_workspace(LocalLocator(stack="dev", container="mlstack-dev"), home=tmp_path)
    assert _catalog(ws) == catalog_path(tmp_path, "dev")
    assert ws.container == "mlstack-dev" and ws.datastore == DATASTORE
    assert ws.exists() is False  # opening creates nothing
    assert not catalog_path(tmp_path, "dev").exists()


def test_the_home_is_the_projects_found_from_the_working_directory(checkout: Project) -> None:
    ws = open_workspace(LocalLocator(stack="dev", container="c"))
    assert _catalog(ws) == catalog_path(checkout.root.resolve() / ".mlstack", "dev")


def test_mlstack_home_moves_the_home_and_the_locator_stays(
    checkout: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locator = LocalLocator(stack="dev", container="c")
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "elsewhere"))
    assert _catalog(open_workspace(locator)) == catalog_path(tmp_path / "elsewhere", "dev")
    assert _catalog(open_workspace(locator, checkout)) == catalog_path(
        tmp_path / "elsewhere", "dev"
    )


def test_without_a_container_the_catalog_says_which(
    checkout: Project, tmp_path: Path, endpoint: BlobEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    with pytest.raises(NotFoundError, match=r"run `pulumi up -s dev` first"):
        open_workspace(LocalLocator(stack="dev"), home=home)
    with pytest.raises(NotFoundError, match=r"run `pulumi up -s dev` first"):
        open_local(checkout, "dev")
    container = f"mlstack-{uuid.uuid4().hex[:8]}"
    created = LocalWorkspace(catalog_path(home, "dev"), container, lambda: endpoint)
    created.create("dev", "", {})
    try:
        ws = open_workspace(LocalLocator(stack="dev"), home=home)
        assert (ws.container, ws.exists()) == (container, True)
        monkeypatch.setenv(HOME_ENV, str(home))
        assert open_local(checkout, "dev").container == container
        assert _catalog(open_emulated("dev", container, checkout)) == created.catalog.path
    finally:
        created.delete()


# -- azure ---------------------------------------------------------------------------------

AZURE = AzureLocator(subscription_id="11111111-2222-3333-4444-555555555555",
                     resource_group="mlstack-test", workspace="mlstack-test")  # fmt: skip


def test_an_azure_locator_opens_the_service_without_a_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arm = CannedArm()
    opened = route_clients(monkeypatch, arm)
    locator = AZURE.model_copy(update={"datastore": "team_blobs"})
    ws = open_workspace(locator)
    assert opened == [locator]
    assert isinstance(ws, AzureMLWorkspace)
    client = ws.client
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        locator.subscription_id, "mlstack-test", "mlstack-test",
    )  # fmt: skip
    assert ws.datastore == "team_blobs"  # named by the locator: nothing to resolve
    assert arm.calls == []


def test_without_a_datastore_the_workspace_default_is_asked_for_once(
    monkeypatch: pytest.MonkeyPatch, endpoint: BlobEndpoint
) -> None:
    arm = CannedArm()
    route_clients(monkeypatch, arm)
    default = datastore(endpoint, "azureml-blobstore-1234", "None")
    default["name"] = "workspaceblobstore"
    default["properties"]["isDefault"] = True
    arm.table[("GET", "/datastores", None)] = (200, {"value": [default]})
    ws = open_workspace(AZURE)
    assert (ws.datastore, ws.container) == ("workspaceblobstore", "azureml-blobstore-1234")
    assert [(c.method, c.path, c.query.get("isDefault")) for c in arm.take()] == [
        ("GET", "/datastores", "true"),
    ]


def test_the_sign_in_happens_where_the_workspace_is_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No credential travels with the locator: the opening process signs in, and a
    failure names the workspace and the fix in one line."""
    arm = CannedArm()
    route_clients(monkeypatch, arm)

    class SignedOut:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            raise CredentialUnavailableError("DefaultAzureCredential failed.\n\t…")

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", SignedOut)
    ws = open_workspace(AZURE)
    with pytest.raises(WorkspaceError) as caught:
        ws.data.list("digits")
    assert str(caught.value).startswith(f"cannot sign in to Azure for {AZURE.describe()}: ")
    assert "`az login`" in str(caught.value)
    assert arm.calls == []


# -- the empty workspace -------------------------------------------------------------------


@pytest.fixture
def empty(tmp_path: Path) -> EmptyWorkspace:
    inner = LocalWorkspace(tmp_path / "workspace.db", "mlstack-dev", no_blob_storage)
    return EmptyWorkspace(inner, "local workspace of stack 'dev'")


def test_an_empty_workspace_reads_as_empty(empty: EmptyWorkspace) -> None:
    assert empty.exists() is False
    assert empty.stored_content().blobs == {} and empty.stored_content("digits").blobs == {}
    for kind, registry in (("data", empty.data), ("model", empty.models),
                           ("environment", empty.environments)):  # fmt: skip
        assert empty.registry(kind) is registry
        assert registry.list() == [] and registry.list("digits") == []
        with pytest.raises(NotFoundError, match="does not exist yet"):
            registry.get("digits")


def test_an_empty_workspace_says_why_a_version_is_missing(empty: EmptyWorkspace) -> None:
    message = "model digits does not exist: local workspace of stack 'dev' does not exist yet"
    with pytest.raises(NotFoundError) as caught:
        empty.models.get("digits", "1")
    assert str(caught.value) == message


def test_an_empty_workspace_registers_and_changes_nothing(empty: EmptyWorkspace) -> None:
    manifest = Manifest.of([FileEntry("a.txt", 1, "0" * 64)])
    registry = empty.data
    with pytest.raises(NotFoundError):
        registry.manifest("digits", "1")
    with pytest.raises(NotFoundError):
        registry.update("digits", "1", "d", {})
    with pytest.raises(NotFoundError):
        registry.set_archived("digits", "1", True)
    with pytest.raises(NotFoundError):
        registry.register("digits", type_="uri_folder", uri="u", digest=DIGEST, manifest=manifest)


def test_an_empty_workspace_names_the_datastore_it_will_have(empty: EmptyWorkspace) -> None:
    """Where content will go is known before the workspace exists, without asking it."""
    assert (empty.container, empty.datastore) == ("mlstack-dev", DATASTORE)
