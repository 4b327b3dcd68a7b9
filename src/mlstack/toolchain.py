"""The environment the real ``pulumi`` CLI needs to run local stacks offline.

One function builds it, so the Makefile (through ``mlstack shell-env``), the CLI and the
tests all drive Pulumi the same way: the project's CLI first on PATH, a file backend
under ``.mlstack/state``, a project-local PULUMI_HOME, no update checks and no plugin
downloads.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlstack.project import Project

# The passphrase of the *local* stacks' secrets. It is documented and shared on purpose:
# local stacks hold only emulator credentials. Set PULUMI_CONFIG_PASSPHRASE to override.
LOCAL_PASSPHRASE = "mlstack-local"  # noqa: S105 - documented local default, see above


def offline_environment(project: Project, base: dict[str, str] | None = None) -> dict[str, str]:
    """Variables to set on top of ``base`` (default: this process's environment)."""
    base = dict(os.environ if base is None else base)
    bin_dir = project.tools / "bin"
    venv_bin = Path(project.root / ".venv" / "bin")
    path = os.pathsep.join(str(p) for p in (bin_dir, venv_bin)) + os.pathsep + base.get("PATH", "")
    return {
        "PATH": path,
        "PULUMI_BACKEND_URL": base.get("PULUMI_BACKEND_URL") or project.state_backend,
        "PULUMI_CONFIG_PASSPHRASE": base.get("PULUMI_CONFIG_PASSPHRASE", LOCAL_PASSPHRASE),
        "PULUMI_HOME": base.get("PULUMI_HOME") or str(project.home / "pulumi-home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
