"""Where a project's files and its machine-local state live.

One object answers "where is X" so no module builds paths by hand: the project root
(the folder holding ``Pulumi.yaml``), the ignored ``.mlstack/`` state folder, the
ignored ``.tools/`` toolchain folder, and each stack's own folder below ``.mlstack/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlstack.errors import MlstackError

PROJECT_FILE = "Pulumi.yaml"
HOME_ENV = "MLSTACK_HOME"


@dataclass(frozen=True)
class Project:
    """A checkout of an mlstack project and its machine-local folders."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The nearest folder at or above ``start`` (default: cwd) holding Pulumi.yaml."""
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / PROJECT_FILE).is_file():
                return cls(folder)
        raise MlstackError(
            f"no {PROJECT_FILE} found in {here} or above: run mlstack from inside the project"
        )

    @property
    def home(self) -> Path:
        """Machine-local state (state backend, Azurite data, catalogs); never committed.

        ``MLSTACK_HOME`` moves it, which tests use to keep runs apart.
        """
        override = os.environ.get(HOME_ENV)
        return Path(override).resolve() if override else self.root / ".mlstack"

    @property
    def tools(self) -> Path:
        """Toolchain built or installed by ``make setup`` (pulumi CLI, Azurite)."""
        return self.root / ".tools"

    @property
    def state_backend(self) -> str:
        """The Pulumi file backend URL for local stacks."""
        return (self.home / "state").as_uri()

    def stack_home(self, stack: str) -> Path:
        """One stack's local workspace folder (catalog, endpoint processes)."""
        return self.home / "stacks" / stack
