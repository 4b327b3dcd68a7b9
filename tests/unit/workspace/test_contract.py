"""The workspace contract, versions: one suite, run on the local emulator and on Azure ML.

Every case takes ``backend`` (``conftest.py``): a fresh, empty workspace opened with
``open_workspace(locator)``, either a LocalWorkspace or an AzureMLWorkspace talking to the
loopback Azure ML service through the real ``MLClient``. The semantics are DESIGN §4 and
the notes' "Azure ML asset semantics": ``(name, version)`` is write-once, content change is
the next integer, identical content is never a new version, ``latest`` is the newest
version created (azure-ai-ml: "the most recently created, not the most recently
updated") that is not archived, metadata changes in place, archived is never deleted.
Content (manifests, blobs, copies) is in ``test_contract_content.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlstack.errors import ImmutableError, NotFoundError, WorkspaceError
from mlstack.workspace.asset import upload_prefix
from mlstack.workspace.registry import IMMUTABLE
from tests.unit.workspace.backends import Backend

ONE = {"a.txt": b"alpha\n", "sub/b.bin": bytes(range(256)), "sub/deep/c.csv": b"x,y\n1,2\n"}
TWO = {**ONE, "a.txt": b"alpha, edited\n"}
THREE = {**ONE, "new.txt": b"a third content\n"}
CONDA = {"name": "train", "channels": ["conda-forge"], "dependencies": ["python=3.11", "numpy"]}
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
ENV: dict[str, Any] = {"image": IMAGE, "conda": CONDA}


def register_env(b: Backend, digest: str, image: str = IMAGE, **kw: Any) -> tuple[str, bool]:
    found, new = b.ws.environments.register(
        "train-env", type_="environment", uri="azureml:train-env", digest=digest,
        properties={**ENV, "image": image}, **kw,
    )  # fmt: skip
    return found.version, new


# -- versions follow content ---------------------------------------------------------------


def test_a_folder_registers_as_version_1_at_its_content_address(backend: Backend) -> None:
    done = backend.register(ONE, description="digits", tags={"team": "ml"})
    found = done.version

    hexdigest = found.digest.removeprefix("sha256:")
    assert (found.version, done.new, found.kind, found.type) == ("1", True, "data", "uri_folder")
    assert found.uri == (
        f"azureml://datastores/{backend.ws.datastore}/paths/LocalUpload/{hexdigest}/images/"
    )
    assert (found.files, found.bytes) == (3, sum(len(v) for v in ONE.values()))
    assert (found.description, dict(found.tags)) == ("digits", {"team": "ml"})
    assert not found.archived
    assert backend.ws.data.get("images") == found
    assert backend.ws.data.get("images", "1") == found
    assert upload_prefix(found.digest, "images") in found.uri


def test_identical_content_again_is_the_same_version_and_writes_nothing(backend: Backend) -> None:
    first = backend.register(ONE, description="d", tags={"k": "v"})
    listed, puts = backend.ws.data.list("images"), backend.version_puts()

    again = backend.register(ONE, description="d", tags={"k": "v"})  # another folder, same bytes

    assert (again.version.version, again.new) == ("1", False)
    assert again.version == first.version
    assert backend.ws.data.list("images") == listed
    assert backend.version_puts() == puts  # azure: no PUT at all
    assert again.transfer is not None and again.transfer.uploaded_files == 0


def test_identical_content_with_new_metadata_renews_it_on_the_same_version(
    backend: Backend,
) -> None:
    first = backend.register(ONE, description="old", tags={"k": "1"})

    again = backend.register(ONE, description="new", tags={"k": "2"})

    assert (again.version.version, again.new) == ("1", False)
    assert (again.version.description, dict(again.version.tags)) == ("new", {"k": "2"})
    assert again.version.uri == first.version.uri
    assert again.version.created_at == first.version.created_at
    assert [v.version for v in backend.ws.data.list("images")] == ["1"]


def test_changed_content_is_the_next_version_and_old_content_gets_its_own_back(
    backend: Backend,
) -> None:
    assert backend.register(ONE).version.version == "1"
    second = backend.register(TWO)
    assert (second.version.version, second.new) == ("2", True)
    assert backend.ws.data.get("images").version == "2"

    back = backend.register(ONE)

    assert (back.version.version, back.new) == ("1", False)
    assert [v.version for v in backend.ws.data.list("images")] == ["1", "2"]
    # Re-registering is a no-op: latest stays the newest version created, as Azure ML's.
    assert backend.ws.data.get("images").version == "2"
    assert backend.register(THREE).version.version == "3"  # the next integer, not a reuse


def test_old_content_whose_version_is_archived_is_restored(backend: Backend) -> None:
    backend.register(ONE)
    backend.register(TWO)
    backend.ws.data.set_archived("images", "1", archived=True)

    back = backend.register(ONE)

    assert (back.version.version, back.new, back.version.archived) == ("1", False, False)
    assert [(v.version, v.archived) for v in backend.ws.data.list("images")] == [
        ("1", False), ("2", False),
    ]  # fmt: skip


def test_an_explicit_pin_registers_and_is_then_write_once(backend: Backend) -> None:
    pinned = backend.register(ONE, version="7")
    assert (pinned.version.version, pinned.new) == ("7", True)
    assert backend.register(ONE, version="7").new is False  # same pin, same content: no-op

    with pytest.raises(ImmutableError) as caught:
        backend.register(TWO, version="7")

    assert IMMUTABLE["data"] in str(caught.value)  # "Asset paths cannot be updated."
    assert "7" in str(caught.value)
    assert backend.ws.data.get("images", "7").digest == pinned.version.digest
    assert backend.register(TWO).version.version == "8"  # auto-versioning continues past a pin


def test_a_pinned_version_registered_again_is_restored_with_new_metadata(
    backend: Backend,
) -> None:
    backend.register(ONE, version="3", description="first", tags={"k": "1"})
    backend.ws.data.set_archived("images", "3", archived=True)  # as `pulumi destroy` leaves it

    again = backend.register(ONE, version="3", description="second", tags={"k": "2"})

    found = again.version
    assert (found.version, again.new, found.archived) == ("3", False, False)
    assert (found.description, dict(found.tags)) == ("second", {"k": "2"})
    assert backend.ws.data.get("images") == found


def test_a_model_pin_with_other_content_is_refused_in_the_models_words(backend: Backend) -> None:
    backend.register(ONE, name="cnn", kind="model", version="1")

    with pytest.raises(ImmutableError, match=IMMUTABLE["model"]):
        backend.register(TWO, name="cnn", kind="model", version="1")
    assert [v.version for v in backend.ws.models.list("cnn")] == ["1"]


def test_names_count_their_versions_apart_and_list_spans_names(backend: Backend) -> None:
    backend.register(ONE, name="train")
    backend.register(TWO, name="train")
    backend.register(ONE, name="val")

    listed = [(v.name, v.version) for v in backend.ws.data.list()]

    assert listed == [("train", "1"), ("train", "2"), ("val", "1")]
    assert backend.ws.data.list("test") == []
    assert backend.ws.models.list() == []


# -- metadata in place -----------------------------------------------------------------------


def test_model_metadata_changes_in_place_and_content_stays(backend: Backend) -> None:
    props = {"metrics": {"test": {"accuracy": 0.97}}, "framework": "torch", "epochs": 8}
    found = backend.register(
        ONE, name="cnn", kind="model", properties=props, description="d", stage="Staging"
    ).version
    assert (dict(found.properties), found.stage) == (props, "Staging")

    updated = backend.ws.models.update("cnn", "1", "promoted", {"gate": "passed"}, "Production")

    assert (updated.description, dict(updated.tags), updated.stage) == (
        "promoted", {"gate": "passed"}, "Production",
    )  # fmt: skip
    content = ("version", "type", "uri", "digest", "files", "bytes", "properties", "created_at")
    assert {f: getattr(updated, f) for f in content} == {f: getattr(found, f) for f in content}
    assert backend.ws.models.get("cnn", "1") == updated
    assert [v.version for v in backend.ws.models.list("cnn")] == ["1"]


def test_only_models_carry_a_stage(backend: Backend) -> None:
    data = backend.register(ONE, stage="Staging").version
    model = backend.register(ONE, name="cnn", kind="model", stage="Staging").version

    assert (data.stage, model.stage) == ("", "Staging")
    assert backend.ws.data.update("images", "1", "d", {}, "Production").stage == ""
    assert backend.ws.models.update("cnn", "1", "d", {}, "Production").stage == "Production"


def test_updating_an_archived_version_keeps_it_archived(backend: Backend) -> None:
    backend.register(ONE)
    backend.ws.data.set_archived("images", "1", archived=True)

    updated = backend.ws.data.update("images", "1", "described later", {"k": "v"})

    assert (updated.description, updated.archived) == ("described later", True)
    assert backend.ws.data.get("images", "1").archived


# -- archive and restore ---------------------------------------------------------------------


def test_archive_hides_a_version_from_latest_and_restore_brings_it_back(backend: Backend) -> None:
    backend.register(ONE)
    backend.register(TWO)

    archived = backend.ws.data.set_archived("images", "2", archived=True)

    assert (archived.version, archived.archived) == ("2", True)
    assert backend.ws.data.get("images").version == "1"
    assert backend.ws.data.get("images", "2").archived  # still readable by version
    assert [(v.version, v.archived) for v in backend.ws.data.list("images")] == [
        ("1", False), ("2", True),
    ]  # fmt: skip
    restored = backend.ws.data.set_archived("images", "2", archived=False)
    assert not restored.archived
    assert backend.ws.data.get("images").version == "2"


def test_when_every_version_is_archived_latest_is_not_found_naming_them(backend: Backend) -> None:
    backend.register(ONE)
    backend.register(TWO)
    for version in ("1", "2"):
        backend.ws.data.set_archived("images", version, archived=True)

    with pytest.raises(NotFoundError, match=r"archived \(1, 2\)"):
        backend.ws.data.get("images")
    assert backend.register(THREE).version.version == "3"  # archived numbers are not reused


# -- environments: versioned by digest, no files ---------------------------------------------


def test_environments_version_by_their_digest_and_have_no_files(backend: Backend) -> None:
    assert register_env(backend, "sha256:" + "a" * 64, description="cpu") == ("1", True)
    assert register_env(backend, "sha256:" + "a" * 64, description="cpu") == ("1", False)
    assert register_env(backend, "sha256:" + "b" * 64, image="python:3.12") == ("2", True)

    first = backend.ws.environments.get("train-env", "1")
    assert (first.kind, first.digest, first.files, first.description) == (
        "environment", "sha256:" + "a" * 64, 0, "cpu",
    )  # fmt: skip
    assert dict(first.properties) == ENV
    assert backend.ws.environments.get("train-env").properties["image"] == "python:3.12"
    with pytest.raises(NotFoundError):
        backend.ws.environments.manifest("train-env", "1")


def test_an_environment_pin_with_another_image_is_immutable(backend: Backend) -> None:
    register_env(backend, "sha256:" + "a" * 64, version="3")

    with pytest.raises(ImmutableError, match="image and conda file are immutable"):
        register_env(backend, "sha256:" + "b" * 64, image="python:3.12", version="3")
    assert backend.ws.environments.get("train-env", "3").properties["image"] == IMAGE


# -- errors ------------------------------------------------------------------------------------


def test_unknown_names_and_versions_are_not_found(backend: Backend) -> None:
    backend.register(ONE)
    data = backend.ws.data

    for attempt in (
        lambda: data.get("nothing"),
        lambda: data.get("images", "9"),
        lambda: data.manifest("images", "9"),
        lambda: data.update("images", "9", "d", {}),
        lambda: data.set_archived("images", "9", archived=True),
        lambda: backend.ws.models.get("images"),  # the name is a data asset, not a model
    ):
        with pytest.raises(NotFoundError):
            attempt()
    assert [v.version for v in data.list("images")] == ["1"]  # nothing was created


def test_an_unknown_kind_is_a_workspace_error(backend: Backend) -> None:
    with pytest.raises(WorkspaceError, match="unknown asset kind 'dataset'"):
        backend.ws.registry("dataset")
    assert backend.ws.registry("model").kind == "model"
