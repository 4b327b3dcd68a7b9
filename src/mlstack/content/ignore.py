"""Ignore rules: which files of an asset folder `az ml` would leave out, and so do we.

A data asset's digest must describe exactly the files Azure ML uploads, so the rules
are not re-implemented here; they are azure-ai-ml's own, from
``azure.ai.ml._utils._asset_utils``:

- ``get_ignore_file(root)`` picks the rules file: ``.amlignore`` beats ``.gitignore``,
  and only the one at the root of the folder counts (nested ones are plain files).
- ``IgnoreFile.is_file_excluded(path)`` is the test ``traverse_directory`` applies to
  every *file* (never to a folder) found by ``get_upload_files_from_folder``; its
  gitwildmatch patterns (``azure.ai.ml._utils._pathspec``) include negations, so a
  ``!keep.csv`` re-includes a file even below an excluded folder, unlike git.

Those are private modules of azure-ai-ml (pinned in ``uv.lock``); a test pins the
behaviour we rely on, so an upgrade that changes it fails loudly. Importing azure-ai-ml
costs seconds, so it is imported only when the folder actually has a rules file.
The rules file itself is an ordinary file of the asset, as it is for `az ml`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlstack.errors import ConfigError, Problem

if TYPE_CHECKING:
    from azure.ai.ml._utils._asset_utils import IgnoreFile

AML_IGNORE = ".amlignore"
GIT_IGNORE = ".gitignore"


@dataclass(frozen=True)
class IgnoreRules:
    """The root ignore file of one folder, if any, and the test it applies to files."""

    root: Path
    """The folder, resolved (azure-ai-ml matches against resolved paths)."""
    source: Path | None
    """The rules file in force (``.amlignore`` or ``.gitignore``), or None: keep all."""
    _matcher: IgnoreFile | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, root: Path) -> IgnoreRules:
        """Read the rules of ``root``; a rules file that cannot be read is a ConfigError."""
        resolved = root.resolve()
        if not any((resolved / name).exists() for name in (AML_IGNORE, GIT_IGNORE)):
            return cls(resolved, None)
        matcher = _azure_ml_ignore_file(resolved)
        source = Path(matcher.path)
        try:
            # Parse now, so a bad rules file is reported before any file is hashed.
            matcher.is_file_excluded(source)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            reason = f"cannot use this ignore file ({exc}); fix or remove it"
            raise ConfigError([Problem(str(root / source.name), "", reason)]) from exc
        return cls(resolved, source, matcher)

    def excludes(self, relpath: str) -> bool:
        """Whether the file at POSIX ``relpath`` (relative to the root) is left out."""
        if self._matcher is None:
            return False
        return bool(self._matcher.is_file_excluded(f"{self.root.as_posix()}/{relpath}"))


def _azure_ml_ignore_file(root: Path) -> IgnoreFile:
    """azure-ai-ml's own choice of rules file for ``root``.

    Importing azure-ai-ml raises marshmallow deprecation warnings about its own schemas,
    which nobody using mlstack can act on (and which fail a ``-W error`` run), so they
    are silenced for the import only.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=r"azure\.|marshmallow\."
        )
        from azure.ai.ml._utils._asset_utils import get_ignore_file  # noqa: PLC0415 (slow)

    return get_ignore_file(root)
