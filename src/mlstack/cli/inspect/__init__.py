"""Inspection commands: what the stack's workspace holds, as the Azure ML CLI would show it.

Each noun is a sub-app (``mlstack data …``, ``mlstack model …``); all take ``-s/--stack``
and ``--format table|json``, and reach the workspace only through
:func:`mlstack.cli.inspect.common.open_workspace`, which picks the local or Azure backend.
"""

from __future__ import annotations

from mlstack.cli.inspect.component import component_app
from mlstack.cli.inspect.compute import compute_app
from mlstack.cli.inspect.data import data_app
from mlstack.cli.inspect.datastore import datastore_app
from mlstack.cli.inspect.env import env_app
from mlstack.cli.inspect.model import model_app
from mlstack.cli.inspect.workspace import workspace_app

__all__ = [
    "component_app",
    "compute_app",
    "data_app",
    "datastore_app",
    "env_app",
    "model_app",
    "workspace_app",
]
