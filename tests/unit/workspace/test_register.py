"""Store, verify, then register — written once on the protocol (``workspace/register.py``).

Run on local workspaces whose datastores are containers of the session's real Azurite:
``register_folder`` sends only what the datastore lacks, ``register_copy`` copies a
version server-side between two containers of one storage account, or across two accounts
(the session's Azurite holds two) from URLs signed with a read-only SAS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlstack.content import sender
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.hashcache import NoCache
from mlstack.content.manifest import Manifest
from mlstack.content.scan import scan
from mlstack.errors import StorageAccessError, WorkspaceError
from mlstack.workspace import register, register_copy, register_folder
from mlstack.workspace.asset import AssetVersion, datastore_uri, upload_prefix
from mlstack.workspace.local import LocalWorkspace

FILES = {"train.csv": b"a,b\n1,2\n", "sub/labels.txt": b"cat\ndog\n", "README": b"digits",
         "a dir/ünï %20.txt": b"a name URLs must encode"}  # fmt: skip


def _folder(root: Path, files: dict[str, bytes]) -> tuple[Path, Manifest]:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root, scan(root, NoCache())


def _blobs(endpoint: BlobEndpoint, container: str, prefix: str) -> dict[str, bytes]:
    """Blob name (under ``prefix``) → content, the completion marker left out."""
    client = endpoint.client().get_container_client(container)
    names = [b.name for b in client.list_blobs(name_starts_with=f"{prefix}/")]
    return {name.removeprefix(f"{prefix}/"): client.download_blob(name).readall()
            for name in names if not name.rsplit("/", 1)[-1].startswith(".")}  # fmt: skip


@pytest.fixture
def workspaces(tmp_path: Path, endpoint: BlobEndpoint) -> Iterator[list[LocalWorkspace]]:
    """Two workspaces (``dev`` and ``prod``) with a container each in the same account."""
    created = []
    for stack in ("dev", "prod"):
        container = f"mlstack-{stack}-{uuid.uuid4().hex[:8]}"
        ws = LocalWorkspace(tmp_path / stack / "workspace.db", container, lambda: endpoint)
        ws.create(stack, "", {})
        created.append(ws)
    yield created
    for ws in created:
        ws.delete()


@pytest.fixture
def registered(workspaces: list[LocalWorkspace], tmp_path: Path) -> AssetVersion:
    """Version 1 of data ``digits`` in ``dev``."""
    root, manifest = _folder(tmp_path / "src", FILES)
    done = register_folder(workspaces[0], "data", "digits", root, manifest, type_="uri_folder",
                           properties={"origin": "test"}, tags={"t": "1"})  # fmt: skip
    return done.version


# -- register_folder -----------------------------------------------------------------------


def test_a_folder_is_stored_verified_and_registered_once(
    workspaces: list[LocalWorkspace], tmp_path: Path, endpoint: BlobEndpoint
) -> None:
    dev = workspaces[0]
    root, manifest = _folder(tmp_path / "src", FILES)
    first = register_folder(dev, "data", "digits", root, manifest, type_="uri_folder")
    assert (first.version.version, first.new) == ("1", True)
    assert first.transfer is not None and first.transfer.uploaded_files == len(FILES)
    prefix = upload_prefix(manifest.digest, "digits")
    assert first.version.uri == datastore_uri(prefix, dev.datastore)
    assert _blobs(endpoint, dev.container, prefix) == FILES
    assert dev.data.manifest("digits", "1") == manifest

    again = register_folder(dev, "data", "digits", root, manifest, type_="uri_folder")
    assert (again.version.version, again.new) == ("1", False)
    assert again.transfer is not None and again.transfer.uploaded_files == 0


def test_a_new_version_sends_only_the_changed_file(
    workspaces: list[LocalWorkspace], registered: AssetVersion, tmp_path: Path
) -> None:
    root, manifest = _folder(tmp_path / "src", {"train.csv": b"a,b\n1,2\n3,4\n"})
    done = register_folder(workspaces[0], "data", "digits", root, manifest, type_="uri_folder")
    assert (done.version.version, done.new) == ("2", True)
    assert done.transfer is not None
    assert (done.transfer.uploaded_files, done.transfer.copied_files) == (1, len(FILES) - 1)


# -- register_copy -------------------------------------------------------------------------


def test_a_source_blob_changed_since_its_version_was_stored_is_not_promoted(
    workspaces: list[LocalWorkspace], registered: AssetVersion, endpoint: BlobEndpoint
) -> None:
    """Even with its sha256 metadata intact, which is all a listing would have checked."""
    dev, prod = workspaces
    prefix = upload_prefix(registered.digest, "digits")
    blob = endpoint.client().get_blob_client(dev.container, f"{prefix}/train.csv")
    blob.upload_blob(b"not what was validated", overwrite=True,
                     metadata=blob.get_blob_properties().metadata)  # fmt: skip

    with pytest.raises(WorkspaceError, match=r"'train\.csv'.*changed after its version"):
        register_copy(prod, dev, registered, properties={"promotion": {"from": "dev"}})
    assert prod.data.list("digits") == []


def test_a_version_is_copied_within_one_account_and_registered(
    workspaces: list[LocalWorkspace], registered: AssetVersion, endpoint: BlobEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    dev, prod = workspaces

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a copy sent bytes from this machine")

    monkeypatch.setattr(sender.Sender, "send", refuse)
    done = register_copy(prod, dev, registered, properties={"promotion": {"from": "dev"}},
                         description="promoted", tags={"env": "prod"})  # fmt: skip
    assert (done.version.version, done.new) == ("1", True)
    assert done.transfer is not None
    assert (done.transfer.uploaded_files, done.transfer.copied_files) == (0, len(FILES))
    # Sealed by dev's recorded ETags: nothing is listed after the copies.
    assert dict(done.transfer.requests_by_kind)["list"] == 1
    copied = prod.data.get("digits", "1")
    assert (copied.digest, copied.type, copied.description) == (
        registered.digest, "uri_folder", "promoted",
    )  # fmt: skip
    assert copied.properties == {"promotion": {"from": "dev"}}
    assert prod.data.manifest("digits", "1") == dev.data.manifest("digits", "1")
    prefix = upload_prefix(registered.digest, "digits")
    assert copied.uri == datastore_uri(prefix, prod.datastore)
    assert _blobs(endpoint, prod.container, prefix) == FILES

    again = register_copy(prod, dev, registered, properties={"promotion": {"from": "dev"}})
    assert (again.version.version, again.new) == ("1", False)
    assert again.transfer is not None and again.transfer.copied_files == 0


def test_a_copy_between_two_storage_accounts_is_signed_and_sends_nothing_from_here(
    workspaces: list[LocalWorkspace], registered: AssetVersion, tmp_path: Path,
    second_account: BlobEndpoint, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    dev = workspaces[0]
    container = f"mlstack-other-{uuid.uuid4().hex[:8]}"
    other = LocalWorkspace(tmp_path / "other" / "workspace.db", container, lambda: second_account)
    other.create("other", "", {})
    signed: list[str] = []
    real = sender.Sender._source_url

    def watch(self: sender.Sender, source: str) -> str:
        url = real(self, source)
        signed.append(url)
        return url

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a copy sent bytes from this machine")

    monkeypatch.setattr(sender.Sender, "_source_url", watch)
    monkeypatch.setattr(sender.Sender, "send", refuse)
    try:
        done = register_copy(other, dev, registered, properties={"promotion": {"from": "dev"}})
        assert done.transfer is not None
        assert (done.transfer.copied_files, done.transfer.sent_bytes) == (len(FILES), 0)
        prefix = upload_prefix(registered.digest, "digits")
        assert _blobs(second_account, container, prefix) == FILES
        assert other.data.manifest("digits", "1") == dev.data.manifest("digits", "1")
        # Each source is the dev account's blob URL, signed read-only for the container.
        assert len(signed) == len(FILES)
        base = f"{dev.endpoint.url}/{dev.container}/{prefix}/"
        assert all(url.startswith(base) for url in signed)
        assert all("sr=c" in url and "sp=r&" in url for url in signed)
        assert dict(done.transfer.requests_by_kind)["list"] == 1  # sealed across accounts too
    finally:
        other.delete()


def test_a_source_account_that_refuses_the_copy_names_the_role_to_grant(
    workspaces: list[LocalWorkspace], registered: AssetVersion, tmp_path: Path,
    second_account: BlobEndpoint, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from mlstack.content import signature  # noqa: PLC0415

    container = f"mlstack-other-{uuid.uuid4().hex[:8]}"
    other = LocalWorkspace(tmp_path / "other" / "workspace.db", container, lambda: second_account)
    other.create("other", "", {})
    forged = signature.Signature("sv=2025-11-05&sr=c&sp=r&sig=Zm9yZ2Vk", "account-key")
    monkeypatch.setattr(register, "read_signature", lambda *_a, **_k: forged)
    try:
        with pytest.raises(StorageAccessError) as caught:
            register_copy(other, workspaces[0], registered, properties={})
        message = str(caught.value)
        account = workspaces[0].endpoint.account
        assert (caught.value.account, caught.value.role) == (account, "Storage Blob Data Reader")
        assert f"storage account {account!r} refused to let data digits:1 be copied" in message
        assert '--role "Storage Blob Data Reader"' in message
        assert f"az storage account show --name {account} --query id" in message
        assert "Zm9yZ2Vk" not in message
        assert other.data.list() == []
    finally:
        other.delete()
