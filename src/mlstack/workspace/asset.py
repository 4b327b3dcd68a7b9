"""Value objects for registered assets, shared by both workspace backends."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlstack.errors import NotFoundError

DATASTORE = "workspaceblobstore"  # Azure ML's name for a workspace's default datastore
_REF = re.compile(r"^(?P<name>[^:@]+)(?::(?P<version>[^:@]+)|@(?P<label>latest))?$")


def datastore_uri(path: str, datastore: str = DATASTORE) -> str:
    """``azureml://datastores/<ds>/paths/<path>``: the form Azure ML jobs mount."""
    return f"azureml://datastores/{datastore}/paths/{path.strip('/')}/"


KNOWN_VERSIONS = 3
"""How many of a name's newest versions lend their files, sealed, to a new one (one blob GET
of a completion marker each)."""


def upload_prefix(digest: str, name: str) -> str:
    """Where a version's files live in the datastore: ``LocalUpload/<hex digest>/<name>``."""
    return f"LocalUpload/{digest.split(':', 1)[-1]}/{name}"


@dataclass(frozen=True)
class AssetRef:
    """``name``, ``name:version`` or ``name@latest``; version None means latest."""

    name: str
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> AssetRef:
        match = _REF.fullmatch(text.strip())
        if not match:
            raise NotFoundError(
                f"{text!r} is not an asset reference: use NAME, NAME:VERSION or NAME@latest"
            )
        return cls(match["name"], match["version"])

    def __str__(self) -> str:
        return f"{self.name}:{self.version}" if self.version else f"{self.name}@latest"


@dataclass(frozen=True)
class AssetVersion:
    """One registered version of a data, model or environment asset.

    Content fields (type, uri, digest, files, bytes, properties) are write-once;
    description, tags, stage and archived are mutable.
    """

    name: str
    version: str
    type: str
    uri: str
    digest: str
    files: int
    bytes: int
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    archived: bool = False
    created_at: str = ""
    kind: str = "data"
    properties: Mapping[str, Any] = field(default_factory=dict)
    stage: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "type": self.type,
            "uri": self.uri,
            "digest": self.digest,
            "files": self.files,
            "bytes": self.bytes,
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
            "archived": self.archived,
            "created_at": self.created_at,
            "properties": dict(self.properties),
            "stage": self.stage,
        }


DataVersion = AssetVersion  # the name callers of data operations read best


@dataclass(frozen=True)
class WorkspaceInfo:
    """The workspace record: identity (name, container) and mutable metadata."""

    name: str
    container: str
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "container": self.container,
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
            "created_at": self.created_at,
        }


def content_digest(version: AssetVersion) -> str:
    """The digest its files are stored under: a component's code folder's, else its own.

    A component version's digest covers its spec too, so its files sit where the code
    folder's manifest digest says (``properties.code_digest``).
    """
    if version.kind == "component":
        return str(version.properties.get("code_digest") or version.digest)
    return version.digest
