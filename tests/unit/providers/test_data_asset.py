"""The DataAsset provider's methods called directly (no engine), against a real Azurite.

Each test gets a stack (catalog and container) of its own, created the way the Workspace
resource creates it, and small folders of files under ``tmp_path``. Inputs name the
workspace by its locator only; the provider finds the home (``MLSTACK_HOME``, set to the
test session's Azurite home) at run time.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from mlstack.config.locator import LocalLocator
from mlstack.content import sender
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.errors import WorkspaceError
from mlstack.project import HOME_ENV
from mlstack.providers.data_asset import OUTPUT_KEYS, DataAssetProvider
from mlstack.providers.workspace import WorkspaceProvider
from mlstack.workspace.local import LocalWorkspace
from mlstack.workspace.registry import Registry

URI_HEAD = "azureml://datastores/workspaceblobstore/paths/"
FIRST = {"train.csv": b"a,b\n1,2\n", "sub/labels.txt": b"cat\ndog\n", "README": b"mnist"}

Props = dict[str, Any]


@dataclass(frozen=True)
class Stack:
    """A stack's workspace, as a DataAsset's inputs name it and as the tests open it."""

    name: str
    container: str
    home: Path

    @property
    def props(self) -> Props:
        """The inputs a DataAsset shares with its workspace: the locator, nothing else."""
        return {"workspace": LocalLocator(stack=self.name, container=self.container).model_dump()}


@pytest.fixture
def stack(azurite_home: Path, endpoint: BlobEndpoint, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """A fresh workspace (catalog + container) under the home the provider finds."""
    monkeypatch.setenv(HOME_ENV, str(azurite_home))
    name = f"t{uuid.uuid4().hex[:8]}"
    created = Stack(name, f"mlstack-{name}", azurite_home)
    WorkspaceProvider().create(
        {"stack": name, "container": created.container, "description": "", "tags": {}}
    )
    return created


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _news(stack: Stack, source: Path, **over: Any) -> Props:
    """What the engine hands create/update: the program's props (``DataInputs.to_props``)
    after ``check``, with the output placeholders and the serialized provider."""
    manifest = scan(source, NoCache())
    raw = {
        **stack.props,
        "name": "mnist",
        "type": "uri_folder",
        "source": str(source),
        "digest": manifest.digest,
        "files": manifest.files,
        "bytes": manifest.bytes,
        "changes": "+3 files",
        "description": "digits",
        "tags": {"owner": "ml"},
        "version_pin": "",
        **over,
    }
    checked = DataAssetProvider().check({}, raw)
    assert checked.failures == []
    return {**checked.inputs, **dict.fromkeys(OUTPUT_KEYS), "__provider": "pickled"}


def _state(outs: Props | None) -> Props:
    """Outputs as the engine stores them: the serialized provider is added back."""
    assert outs is not None
    return {**outs, "__provider": "pickled"}


def _workspace(stack: Stack) -> LocalWorkspace:
    return LocalWorkspace.open(stack.home, stack.name)


def _blobs(endpoint: BlobEndpoint, stack: Stack, under: str = "") -> dict[str, str]:
    """Blob name → etag, in the stack's container."""
    container = endpoint.client().get_container_client(stack.container)
    return {b.name: str(b.etag) for b in container.list_blobs(name_starts_with=under or None)}


def _path_of(uri: str) -> str:
    assert uri.startswith(URI_HEAD) and uri.endswith("/")
    return uri.removeprefix(URI_HEAD).rstrip("/")


# -- check ------------------------------------------------------------------------------


def test_check_accepts_valid_inputs_and_fills_defaults(stack: Stack, tmp_path: Path) -> None:
    source = _folder(tmp_path / "d", FIRST)
    raw = {
        **stack.props,
        "name": "mnist",
        "type": "uri_folder",
        "source": str(source),
        "digest": scan(source, NoCache()).digest,
    }
    result = DataAssetProvider().check({}, raw)
    assert result.failures == []
    assert result.inputs["description"] == ""
    assert result.inputs["tags"] == {}
    assert result.inputs["version_pin"] == ""
    assert {k: result.inputs[k] for k in raw} == raw


def test_check_of_legacy_inputs_names_the_workspace_by_locator_and_drops_home() -> None:
    """Inputs of the previous release carried the home path; checked, the same resource
    names its workspace by locator only (the one path left is the folder, ``source``)."""
    legacy = {k: v for k, v in _valid().items() if k != "workspace"}
    legacy |= {"stack": "dev", "home": "/home/alice/mlstack/.mlstack", "container": "mlstack-dev"}
    result = DataAssetProvider().check({}, legacy)
    assert result.failures == []
    assert "home" not in result.inputs and "stack" not in result.inputs
    assert result.inputs["workspace"] == {"target": "local", "stack": "dev",
                                          "container": "mlstack-dev"}  # fmt: skip
    assert result.inputs == DataAssetProvider().check({}, _valid()).inputs


REQUIRED = ("workspace", "name", "source", "digest", "type")


def _valid() -> Props:
    return {
        "workspace": {"target": "local", "stack": "dev", "container": "mlstack-dev"},
        "name": "mnist",
        "type": "uri_folder",
        "source": "/tmp/data",
        "digest": "sha256:" + "0" * 64,
    }


@pytest.mark.parametrize("key", REQUIRED)
def test_check_reports_a_missing_required_property_on_that_property(key: str) -> None:
    news = _valid()
    del news[key]
    failures = DataAssetProvider().check({}, news).failures
    assert {f.property for f in failures} == {key}
    assert any(f.reason == "Field required" for f in failures)


def test_check_reports_every_missing_property_at_once() -> None:
    failures = {f.property for f in DataAssetProvider().check({}, {}).failures}
    assert failures == set(REQUIRED)


@pytest.mark.parametrize(
    ("workspace", "missing"),
    [
        ({"target": "local"}, "workspace.stack"),
        ({"target": "azure", "subscription_id": "s", "workspace": "w"},
         "workspace.resource_group"),
    ],
)  # fmt: skip
def test_check_names_the_missing_property_of_the_locator(workspace: Props, missing: str) -> None:
    failures = DataAssetProvider().check({}, {**_valid(), "workspace": workspace}).failures
    assert [(f.property, f.reason) for f in failures] == [(missing, "Field required")]


def test_check_reports_an_unknown_target_on_the_workspace() -> None:
    failures = DataAssetProvider().check({}, {**_valid(), "workspace": {"target": "gcp"}}).failures
    assert [f.property for f in failures] == ["workspace"]
    assert "'local', 'azure'" in failures[0].reason


def test_check_rejects_a_home_path_inside_the_locator() -> None:
    workspace = {"target": "local", "stack": "dev", "home": "/home/alice/.mlstack"}
    failures = DataAssetProvider().check({}, {**_valid(), "workspace": workspace}).failures
    assert [f.property for f in failures] == ["workspace.home"]


@pytest.mark.parametrize("name", ["bad name", ".hidden", "ends.", "a/b"])
def test_check_reports_a_bad_asset_name(name: str) -> None:
    failures = DataAssetProvider().check({}, {**_valid(), "name": name}).failures
    assert [f.property for f in failures] == ["name"]
    assert "not a valid asset name" in failures[0].reason


def test_check_reports_a_digest_without_its_prefix() -> None:
    failures = DataAssetProvider().check({}, {**_valid(), "digest": "md5:abc"}).failures
    assert [f.property for f in failures] == ["digest"]
    assert "sha256:" in failures[0].reason


# -- diff -------------------------------------------------------------------------------


@pytest.fixture
def olds() -> Props:
    return {
        **_valid(),
        "files": 3,
        "bytes": 21,
        "changes": "+3 files",
        "description": "digits",
        "tags": {"owner": "ml"},
        "version_pin": "",
        "version": "1",
        "uri": URI_HEAD + "LocalUpload/00/mnist/",
        "registered": ["1"],
        "archived": False,
        "__provider": "old-pickle",
    }


def _inputs(olds: Props, **over: Any) -> Props:
    """The news the engine would diff against ``olds``: inputs, outputs unknown (None)."""
    return {**olds, **dict.fromkeys(OUTPUT_KEYS), "__provider": "new-pickle", **over}


def test_diff_no_change(olds: Props) -> None:
    result = DataAssetProvider().diff("id", olds, _inputs(olds))
    assert result.changes is False and result.replaces == []


def test_diff_new_digest_is_an_update_not_a_replace(olds: Props) -> None:
    news = _inputs(olds, digest="sha256:" + "1" * 64, files=4, bytes=30, changes="+1 file")
    result = DataAssetProvider().diff("id", olds, news)
    assert result.changes is True and result.replaces == []


@pytest.mark.parametrize(("key", "value"), [("description", "other"), ("tags", {"owner": "x"})])
def test_diff_metadata_is_an_update(olds: Props, key: str, value: object) -> None:
    result = DataAssetProvider().diff("id", olds, _inputs(olds, **{key: value}))
    assert result.changes is True and result.replaces == []


AZURE = {"target": "azure", "subscription_id": "s", "resource_group": "rg", "workspace": "ws",
         "datastore": "mlstack", "blob_endpoint": ""}  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("name", "other"),
        ("workspace", {"target": "local", "stack": "other", "container": "mlstack-dev"}),
        ("workspace", {"target": "local", "stack": "dev", "container": "mlstack-other"}),
        ("workspace", AZURE),
    ],
    ids=["name", "stack", "container", "target"],
)
def test_diff_identity_change_is_a_replace(olds: Props, key: str, value: object) -> None:
    result = DataAssetProvider().diff("id", olds, _inputs(olds, **{key: value}))
    assert result.changes is True and result.replaces == [key]


def test_diff_of_a_legacy_state_with_a_moved_home_is_no_change(olds: Props) -> None:
    """A state of the previous release names its workspace by stack, home and container;
    the locator decides, so another checkout or MLSTACK_HOME replaces nothing."""
    legacy = {k: v for k, v in olds.items() if k != "workspace"}
    legacy |= {"stack": "dev", "home": "/old/checkout/.mlstack", "container": "mlstack-dev"}
    result = DataAssetProvider().diff("id", legacy, _inputs(olds))
    assert result.changes is False and result.replaces == []


def test_diff_of_a_legacy_state_in_another_stack_is_a_replace(olds: Props) -> None:
    legacy = {k: v for k, v in olds.items() if k != "workspace"}
    legacy |= {"stack": "old", "home": "/old/checkout/.mlstack", "container": "mlstack-dev"}
    result = DataAssetProvider().diff("id", legacy, _inputs(olds))
    assert result.changes is True and result.replaces == ["workspace"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("changes", "no change"), ("files", 99), ("bytes", 99), ("source", "/moved/data")],
)
def test_diff_descriptive_inputs_alone_are_no_change(olds: Props, key: str, value: object) -> None:
    result = DataAssetProvider().diff("id", olds, _inputs(olds, **{key: value}))
    assert result.changes is False and result.replaces == []


def test_diff_ignores_the_serialized_provider(olds: Props) -> None:
    news = _inputs(olds)
    assert olds["__provider"] != news["__provider"]
    assert DataAssetProvider().diff("id", olds, news).changes is False


def test_diff_of_an_archived_version_is_an_update(olds: Props) -> None:
    olds["archived"] = True
    result = DataAssetProvider().diff("id", olds, _inputs(olds))
    assert result.changes is True and result.replaces == []


# -- create -----------------------------------------------------------------------------


def test_create_uploads_then_registers_version_1(
    stack: Stack, tmp_path: Path, endpoint: BlobEndpoint
) -> None:
    source = _folder(tmp_path / "d", FIRST)
    news = _news(stack, source)
    created = DataAssetProvider().create(news)
    outs = created.outs or {}
    assert created.id == f"{stack.name}/data/mnist"
    hex_digest = news["digest"].removeprefix("sha256:")
    assert outs["version"] == "1"
    assert outs["uri"] == f"{URI_HEAD}LocalUpload/{hex_digest}/mnist/"
    assert outs["registered"] == ["1"]
    assert outs["archived"] is False
    assert "__provider" not in outs
    assert outs["digest"] == news["digest"] and outs["description"] == "digits"
    assert outs["workspace"] == stack.props["workspace"]
    assert str(stack.home) not in str(outs)  # the home is found, never stored

    path = _path_of(outs["uri"])
    container = endpoint.client().get_container_client(stack.container)
    blobs = {b.name for b in container.list_blobs(name_starts_with=f"{path}/")}
    assert blobs == {f"{path}/{rel}" for rel in FIRST}
    for rel, data in FIRST.items():
        assert container.download_blob(f"{path}/{rel}").readall() == data

    (registered,) = _workspace(stack).list_data("mnist")
    assert registered.version == "1" and registered.uri == outs["uri"]
    assert registered.digest == news["digest"]
    assert registered.files == 3 and registered.tags == {"owner": "ml"}


def test_create_refuses_a_folder_changed_since_its_digest(
    stack: Stack, tmp_path: Path, endpoint: BlobEndpoint
) -> None:
    source = _folder(tmp_path / "d", FIRST)
    news = _news(stack, source)
    (source / "train.csv").write_bytes(b"a,b\n1,2\n3,4\n")
    with pytest.raises(WorkspaceError, match=r"run `pulumi up` again"):
        DataAssetProvider().create(news)
    assert _workspace(stack).list_data("mnist") == []
    assert _blobs(endpoint, stack) == {}


# -- update -----------------------------------------------------------------------------


def test_update_with_new_content_registers_version_2_and_keeps_1(
    stack: Stack, tmp_path: Path, endpoint: BlobEndpoint
) -> None:
    provider = DataAssetProvider()
    source = _folder(tmp_path / "d", FIRST)
    first = _state(provider.create(_news(stack, source)).outs)
    _folder(source, {"extra.csv": b"5,6\n"})
    news = _news(stack, source)
    second = provider.update("id", first, news).outs or {}
    assert second["version"] == "2" and second["registered"] == ["1", "2"]
    assert second["uri"] != first["uri"] and second["digest"] == news["digest"]

    ws = _workspace(stack)
    one = ws.get_data("mnist", "1")
    assert one.archived is False and one.uri == first["uri"]
    assert ws.get_data("mnist").version == "2"
    path = _path_of(one.uri)
    container = endpoint.client().get_container_client(stack.container)
    for rel, data in FIRST.items():
        assert container.download_blob(f"{path}/{rel}").readall() == data


def test_update_of_metadata_only_keeps_the_version(stack: Stack, tmp_path: Path) -> None:
    provider = DataAssetProvider()
    source = _folder(tmp_path / "d", FIRST)
    first = _state(provider.create(_news(stack, source)).outs)
    news = _news(stack, source, description="handwritten digits", tags={"owner": "data"})
    updated = provider.update("id", first, news).outs or {}
    assert updated["version"] == "1" and updated["registered"] == ["1"]
    assert updated["description"] == "handwritten digits"
    assert updated["tags"] == {"owner": "data"}
    (only,) = _workspace(stack).list_data("mnist")
    assert only.description == "handwritten digits" and only.tags == {"owner": "data"}


def test_update_back_to_earlier_content_returns_to_its_version(
    stack: Stack, tmp_path: Path
) -> None:
    provider = DataAssetProvider()
    source = _folder(tmp_path / "d", FIRST)
    first = _state(provider.create(_news(stack, source)).outs)
    _folder(source, {"extra.csv": b"5,6\n"})
    second = _state(provider.update("id", first, _news(stack, source)).outs)
    (source / "extra.csv").unlink()
    back = provider.update("id", second, _news(stack, source)).outs or {}
    assert back["version"] == "1" and back["uri"] == first["uri"]
    assert back["registered"] == ["1", "2"]
    assert [v.version for v in _workspace(stack).list_data("mnist")] == ["1", "2"]


# -- read -------------------------------------------------------------------------------


def test_read_reports_metadata_changed_outside_pulumi(stack: Stack, tmp_path: Path) -> None:
    provider = DataAssetProvider()
    outs = _state(provider.create(_news(stack, _folder(tmp_path / "d", FIRST))).outs)
    _workspace(stack).update_data("mnist", "1", "edited by hand", {"k": "v"})
    read = provider.read(f"{stack.name}/data/mnist", outs)
    assert read.id == f"{stack.name}/data/mnist"
    assert (read.outs or {})["description"] == "edited by hand"
    assert (read.outs or {})["tags"] == {"k": "v"}
    assert (read.outs or {})["version"] == "1"
    inputs = read.inputs or {}
    assert inputs["description"] == "edited by hand" and inputs["tags"] == {"k": "v"}
    assert not set(OUTPUT_KEYS) & set(inputs)


def test_read_of_a_version_archived_outside_pulumi_and_the_update_that_restores_it(
    stack: Stack, tmp_path: Path
) -> None:
    provider = DataAssetProvider()
    source = _folder(tmp_path / "d", FIRST)
    outs = _state(provider.create(_news(stack, source)).outs)
    _workspace(stack).set_data_archived("mnist", "1", True)
    refreshed = _state(provider.read("id", outs).outs)
    assert refreshed["archived"] is True and refreshed["version"] == "1"

    news = _news(stack, source)
    assert provider.diff("id", refreshed, news).changes is True
    restored = provider.update("id", refreshed, news).outs or {}
    assert restored["version"] == "1" and restored["archived"] is False
    assert _workspace(stack).get_data("mnist", "1").archived is False


def test_read_after_the_catalog_is_deleted_reports_the_resource_gone(
    stack: Stack, tmp_path: Path
) -> None:
    provider = DataAssetProvider()
    outs = _state(provider.create(_news(stack, _folder(tmp_path / "d", FIRST))).outs)
    _workspace(stack).catalog.remove()
    read = provider.read("id", outs)
    assert read.id == "" and read.outs == {}


# -- delete -----------------------------------------------------------------------------


def test_delete_archives_every_version_and_keeps_the_content(
    stack: Stack, tmp_path: Path, endpoint: BlobEndpoint
) -> None:
    provider = DataAssetProvider()
    source = _folder(tmp_path / "d", FIRST)
    first = _state(provider.create(_news(stack, source)).outs)
    _folder(source, {"extra.csv": b"5,6\n"})
    second = _state(provider.update("id", first, _news(stack, source)).outs)
    blobs = _blobs(endpoint, stack)
    assert len(blobs) == 3 + 4 + 2  # both folders and their completion markers

    provider.delete("id", second)
    versions = _workspace(stack).list_data("mnist")
    assert [(v.version, v.archived) for v in versions] == [("1", True), ("2", True)]
    assert _blobs(endpoint, stack) == blobs
    provider.delete("id", second)  # deleting twice is harmless


def test_delete_after_the_workspace_is_gone_leaves_no_catalog_behind(
    stack: Stack, tmp_path: Path
) -> None:
    provider = DataAssetProvider()
    outs = _state(provider.create(_news(stack, _folder(tmp_path / "d", FIRST))).outs)
    catalog = _workspace(stack).catalog.path
    WorkspaceProvider().delete(
        "id", {"stack": stack.name, "container": stack.container, "description": "", "tags": {}}
    )
    assert not catalog.exists()
    provider.delete("id", outs)
    assert not catalog.exists()  # deleting must not bring an empty catalog back


# -- crash safety -----------------------------------------------------------------------


def test_a_crash_between_upload_and_register_leaves_no_version_and_a_rerun_sends_nothing(
    stack: Stack, tmp_path: Path, endpoint: BlobEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = DataAssetProvider()
    news = _news(stack, _folder(tmp_path / "d", FIRST))
    register: Callable[..., Any] = Registry.register
    calls = []

    def crash_once(self: Registry, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("killed after the upload")
        return register(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "register", crash_once)
    with pytest.raises(RuntimeError, match="killed"):
        provider.create(news)
    assert _workspace(stack).list_data("mnist") == []
    uploaded = _blobs(endpoint, stack)
    assert len(uploaded) == len(FIRST) + 1  # the files and the completion marker

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the rerun transferred a file again")

    monkeypatch.setattr(sender.Sender, "send", refuse)
    monkeypatch.setattr(sender.Sender, "copy", refuse)
    outs = provider.create(news).outs or {}
    assert outs["version"] == "1" and outs["registered"] == ["1"]
    assert len(calls) == 2
    assert _blobs(endpoint, stack) == uploaded  # same etags: nothing rewritten
    (only,) = _workspace(stack).list_data("mnist")
    assert only.version == "1" and only.archived is False


# -- serialisation ----------------------------------------------------------------------


def test_provider_round_trips_through_pulumis_own_serializer() -> None:
    """The engine stores the provider dill-pickled in state: by reference, so an edit to
    the module does not show as a diff on every resource."""
    text = serialize_provider(DataAssetProvider())
    blob = base64.b64decode(text)
    assert b"mlstack.providers.data_asset" in blob and b"DataAssetProvider" in blob
    assert len(blob) < 200
    assert isinstance(dill.loads(blob), DataAssetProvider)
    assert serialize_provider(DataAssetProvider()) == text
