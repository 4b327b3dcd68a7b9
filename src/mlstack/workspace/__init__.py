"""The asset registry behind one protocol: the local emulator and Azure ML.

Everything above this package opens a workspace with :func:`open_workspace` from a
locator and sees only the :class:`Workspace` protocol.
"""

from mlstack.workspace.open import EmptyWorkspace, open_workspace
from mlstack.workspace.protocol import AssetRegistry, Workspace
from mlstack.workspace.register import Registered, register_copy, register_folder

__all__ = [
    "AssetRegistry",
    "EmptyWorkspace",
    "Registered",
    "Workspace",
    "open_workspace",
    "register_copy",
    "register_folder",
]
