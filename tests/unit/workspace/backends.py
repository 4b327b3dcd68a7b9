"""What a contract case gets from the ``backend`` fixture (``conftest.py``): a fresh
workspace of one backend, and how to register folders in it and get more of its kind."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan
from mlstack.workspace import Registered, register_folder
from mlstack.workspace.protocol import Workspace

TYPES = {"data": "uri_folder", "model": "custom_model", "component": "command"}


@dataclass
class Backend:
    """A fresh workspace ``ws`` of backend ``name``, and how to get more of the same kind."""

    name: str
    ws: Workspace
    folders: Path
    fresh: Callable[[], Workspace]
    """Another new, empty workspace whose datastore shares ``ws``'s storage account."""
    missing: Callable[[], Workspace]
    """A workspace the backend does not hold (a first preview plans against it)."""
    _puts: Callable[[], list[str]] | None = None

    def version_puts(self) -> list[str] | None:
        """Paths of version PUTs the service received so far (None: local, no service)."""
        return self._puts() if self._puts else None

    def folder(self, files: dict[str, bytes]) -> Path:
        """A new folder holding ``files`` (relpath → bytes)."""
        root = self.folders / f"folder-{uuid.uuid4().hex[:8]}"
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        return root

    def register(
        self,
        files: dict[str, bytes],
        name: str = "images",
        kind: str = "data",
        ws: Workspace | None = None,
        **kw: Any,
    ) -> Registered:
        """``files`` as a folder, scanned and registered as ``name`` the way providers do."""
        root = self.folder(files)
        type_ = kw.pop("type_", TYPES[kind])
        return register_folder(
            ws or self.ws, kind, name, root, scan(root, NoCache()), type_=type_, **kw
        )
