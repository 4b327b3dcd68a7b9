"""The workspace contract for components: the local emulator holds them as a fourth kind
with the same version semantics; the Azure backend refuses the kind in words that say
what to do (components are registered on the local target only, so far)."""

from __future__ import annotations

import re

import pytest

from mlstack.errors import ImmutableError, NotFoundError, WorkspaceError
from mlstack.workspace.registry import IMMUTABLE
from tests.unit.workspace.backends import Backend

CODE = {"train.py": b"print('train')\n", "util/helpers.py": b"X = 1\n"}
EDITED = {**CODE, "train.py": b"print('train, edited')\n"}
SPEC = {"type": "command", "command": "python train.py", "inputs": {}, "outputs": {}}


def _digest(char: str) -> str:
    return "sha256:" + char * 64


def register(b: Backend, files: dict[str, bytes], digest: str, **kw: object) -> tuple[str, bool]:
    done = b.register(files, "train_digits", "component", type_="command", digest=digest,
                      properties={"spec": SPEC}, **kw)  # fmt: skip
    return done.version.version, done.new


@pytest.fixture
def local(local_backend: Backend) -> Backend:
    return local_backend


def test_azure_refuses_the_component_kind_naming_the_fix(backend: Backend) -> None:
    if backend.name == "local":
        assert backend.ws.registry("component").kind == "component"
        return
    with pytest.raises(WorkspaceError, match=r"local target only.*az ml component create"):
        backend.ws.registry("component")


def test_a_component_version_follows_its_digest_and_keeps_its_code(local: Backend) -> None:
    assert register(local, CODE, _digest("a"), description="train") == ("1", True)
    assert register(local, CODE, _digest("a"), description="train") == ("1", False)
    # Same code, another spec: a new version whose files are the same content.
    assert register(local, CODE, _digest("b")) == ("2", True)
    assert register(local, EDITED, _digest("c")) == ("3", True)

    components = local.ws.registry("component")
    first = components.get("train_digits", "1")
    assert (first.kind, first.type, first.digest, first.files) == (
        "component", "command", _digest("a"), 2,
    )  # fmt: skip
    assert first.properties == {"spec": SPEC}
    assert components.get("train_digits").version == "3"
    assert {e.path for e in components.manifest("train_digits", "3").entries} == set(CODE)
    assert local.ws.data.list("train_digits") == []  # a kind of its own


def test_a_pinned_component_version_is_write_once(local: Backend) -> None:
    register(local, CODE, _digest("a"), version="5")
    with pytest.raises(ImmutableError, match=re.escape(IMMUTABLE["component"])):
        register(local, EDITED, _digest("b"), version="5")
    assert local.ws.registry("component").get("train_digits", "5").digest == _digest("a")


def test_archive_hides_a_component_version_from_latest(local: Backend) -> None:
    register(local, CODE, _digest("a"))
    register(local, EDITED, _digest("b"))
    components = local.ws.registry("component")

    components.set_archived("train_digits", "2", archived=True)
    assert components.get("train_digits").version == "1"
    components.set_archived("train_digits", "1", archived=True)
    with pytest.raises(NotFoundError, match="every version of component train_digits"):
        components.get("train_digits")
