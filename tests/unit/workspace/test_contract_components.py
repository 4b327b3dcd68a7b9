"""The workspace contract for components, on the local emulator and on Azure ML: a fourth
kind with the others' version semantics, its code folder stored like a data folder (on Azure
a code version the command component points at, through ``MLClient.components``)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.errors import ImmutableError, NotFoundError
from mlstack.workspace import register_folder
from mlstack.workspace.registry import IMMUTABLE
from tests.unit.workspace.backends import Backend

CODE = {"train.py": b"print('train')\n", "util/helpers.py": b"X = 1\n"}
EDITED = {**CODE, "train.py": b"print('train, edited')\n"}
SPEC: dict[str, Any] = {
    "type": "command", "command": "python train.py --lr ${{inputs.lr}} --out ${{outputs.model}}",
    "environment": "azureml:train-env@latest", "is_deterministic": True,
    "inputs": {"lr": {"type": "number", "default": 0.002}},
    "outputs": {"model": {"type": "uri_folder"}},
}  # fmt: skip


def _digest(char: str) -> str:
    return "sha256:" + char * 64


def register(b: Backend, files: dict[str, bytes], digest: str, **kw: Any) -> tuple[str, bool]:
    """As the provider registers: the code folder stored, spec and code digest as properties
    (after the environment it names, which Azure ML resolves at registration)."""
    b.ws.environments.register(
        "train-env", type_="environment", uri="azureml:train-env", digest=_digest("e"),
        properties={"image": "python:3.11-slim", "conda": {"dependencies": ["python=3.11"]}},
    )  # fmt: skip
    root = b.folder(files)
    manifest = scan(root, NoCache())
    done = register_folder(
        b.ws, "component", "train_digits", root, manifest, type_="command", digest=digest,
        properties={"spec": SPEC, "code_digest": manifest.digest}, **kw,
    )  # fmt: skip
    return done.version.version, done.new


def test_a_component_version_follows_its_digest_and_keeps_its_code(backend: Backend) -> None:
    assert register(backend, CODE, _digest("a"), description="train") == ("1", True)
    assert register(backend, CODE, _digest("a"), description="train") == ("1", False)
    # Same code, another spec: a new version whose files are the same content.
    assert register(backend, CODE, _digest("b")) == ("2", True)
    assert register(backend, EDITED, _digest("c")) == ("3", True)

    components = backend.ws.registry("component")
    first = components.get("train_digits", "1")
    assert (first.kind, first.type, first.digest, first.files) == (
        "component", "command", _digest("a"), 2,
    )  # fmt: skip
    assert first.properties["spec"] == SPEC
    assert components.get("train_digits").version == "3"
    assert {e.path for e in components.manifest("train_digits", "3").entries} == set(CODE)
    assert backend.ws.data.list("train_digits") == []  # a kind of its own


def test_a_pinned_component_version_is_write_once(backend: Backend) -> None:
    register(backend, CODE, _digest("a"), version="5")
    with pytest.raises(ImmutableError, match=re.escape(IMMUTABLE["component"])):
        register(backend, EDITED, _digest("b"), version="5")
    assert backend.ws.registry("component").get("train_digits", "5").digest == _digest("a")


def test_archive_hides_a_component_version_from_latest(backend: Backend) -> None:
    register(backend, CODE, _digest("a"))
    register(backend, EDITED, _digest("b"))
    components = backend.ws.registry("component")

    components.set_archived("train_digits", "2", archived=True)
    assert components.get("train_digits").version == "1"
    components.set_archived("train_digits", "1", archived=True)
    with pytest.raises(NotFoundError, match="every version of component train_digits"):
        components.get("train_digits")


def test_on_azure_the_code_version_is_put_before_the_component_version(backend: Backend) -> None:
    register(backend, CODE, _digest("a"))
    register(backend, CODE, _digest("a"))  # identical: nothing is written again
    puts = backend.version_puts()
    if puts is None:  # local: no service, the catalog holds the version (asserted above)
        assert backend.ws.registry("component").get("train_digits").version == "1"
        return
    code_digest = backend.ws.registry("component").get("train_digits").properties["code_digest"]
    paths = [p.split("/workspaces/")[1].split("/", 1)[1] for p in puts]
    assert [p for p in paths if not p.startswith("environments/")] == [
        f"codes/train_digits-code/versions/{code_digest.removeprefix('sha256:')[:32]}",
        "components/train_digits/versions/1",
    ]


def test_component_metadata_changes_in_place(backend: Backend) -> None:
    register(backend, CODE, _digest("a"), description="first", tags={"team": "ml"})
    components = backend.ws.registry("component")

    updated = components.update("train_digits", "1", "second", {"team": "vision"})
    assert (updated.version, updated.description, dict(updated.tags)) == (
        "1", "second", {"team": "vision"},
    )  # fmt: skip
    again = components.get("train_digits", "1")
    assert (again.digest, again.description, again.properties["spec"]) == (
        _digest("a"), "second", SPEC,
    )  # fmt: skip
