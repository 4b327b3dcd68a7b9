"""Every error mlstack raises on purpose, so callers can catch at any level.

    MlstackError                     base: a message that tells the user what to do
    ├── ConfigError                  bad input; carries every Problem found, all at once
    ├── ServiceError                 a local service (Azurite) is missing, stopped or blocked
    ├── ToolchainError               a required tool (node, pulumi) is absent or the wrong version
    ├── StackError                   a stack cannot be read: no stack file, its backend is
    │                                unreachable or not logged in, or it was never deployed
    ├── PromotionError               a version may not be promoted: archived, below a gate,
    │                                content not matching its digest, or an unsupported route
    ├── BatchError                   a batch scoring job stopped: its script's init() failed,
    │                                or more files failed than its error_threshold allows
    └── WorkspaceError               the workspace refused an operation, as Azure ML would
        ├── NotFoundError            no such workspace, asset or version
        ├── ImmutableError           a write-once field of an existing version was changed
        └── StorageAccessError       a storage account refused the caller (403): names the
                                     role to grant there

The CLI prints ``str(error)`` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

from dataclasses import dataclass


class MlstackError(Exception):
    """Base class; the message is phrased as an instruction to the user."""


@dataclass(frozen=True)
class Problem:
    """One invalid input: where it is (file, field) and what to do about it."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.reason}"


class ConfigError(MlstackError):
    """One or more invalid inputs, reported together before anything changes."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class ServiceError(MlstackError):
    """A local service cannot be started, reached or stopped."""


class ToolchainError(MlstackError):
    """A tool mlstack drives is missing or has the wrong version."""


class StackError(MlstackError):
    """A stack of the project cannot be read; ``stack`` names it."""

    def __init__(self, stack: str, message: str) -> None:
        self.stack = stack
        super().__init__(message)


class PromotionError(MlstackError):
    """A version may not be promoted from ``source`` into ``target``; nothing was pinned."""

    def __init__(self, source: str, target: str, message: str) -> None:
        self.source = source
        self.target = target
        super().__init__(message)


class BatchError(MlstackError):
    """A batch scoring job stopped before writing any output."""


class WorkspaceError(MlstackError):
    """The workspace refused an operation."""


class NotFoundError(WorkspaceError):
    """The named workspace, asset or version does not exist."""


class ImmutableError(WorkspaceError):
    """An existing version's write-once field was changed."""


class StorageAccessError(WorkspaceError):
    """Storage account ``account`` refused the caller; ``role`` is what to grant there."""

    def __init__(self, account: str, role: str, message: str) -> None:
        self.account = account
        self.role = role
        super().__init__(message)
