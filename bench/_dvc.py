"""The DVC anchor: ``dvc add`` + ``dvc push`` of the same folder to the same kind of Azurite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench._assets import generate_tree
from bench._common import REPO, TOOLS, Row, connection_string, say, timed
from mlstack.content.blobstore import BlobEndpoint

DVC_VENV = TOOLS / "bench-dvc"
DVC_REQUIREMENTS = REPO / "tools" / "bench" / "dvc-requirements.txt"


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
        raise RuntimeError(f"`{' '.join(command[:3])}` failed: " + " | ".join(tail))


def ensure_dvc() -> Path:
    """DVC in a venv of its own under ``.tools/bench-dvc`` (created once, pinned)."""
    dvc = DVC_VENV / "bin" / "dvc"
    if not dvc.exists():
        print(f"installing DVC into {DVC_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(DVC_VENV)], check=True)
        pip = [str(DVC_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(DVC_REQUIREMENTS)], check=True)
    return dvc


def dvc_add_push(repo: Path, endpoint: BlobEndpoint, container: str) -> tuple[float, float, int]:
    """Seconds of ``dvc add images`` and of ``dvc push`` to ``container``, and blobs pushed."""
    dvc = str(ensure_dvc())
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    endpoint.client().create_container(container)
    for command in (
        ["init", "--no-scm", "-q"],
        ["config", "core.site_cache_dir", str(repo.parent / "dvc-site")],
        ["remote", "add", "-d", "azurite", f"azure://{container}/store"],
        ["remote", "modify", "--local", "azurite", "connection_string",
         connection_string(endpoint)],
    ):  # fmt: skip
        _run([dvc, *command], repo, env)
    add_s, _ = timed(lambda: _run([dvc, "add", "-q", "images"], repo, env))
    push_s, _ = timed(lambda: _run([dvc, "push", "-q"], repo, env))
    pushed = sum(1 for _ in endpoint.client().get_container_client(container).list_blobs())
    return add_s, push_s, pushed


def dvc_lane(  # noqa: PLR0917 - the lane, and where its rows go
    home: Path,
    azurite: Callable[[str], AbstractContextManager[BlobEndpoint]],
    files: int,
    ours: float,
    rows: list[Row],
    extra: dict[str, Any],
    *,
    skip: bool,
) -> None:
    """``dvc add`` + ``dvc push`` of an identical copy, against our cold scan + registration."""
    if skip:
        rows.append(Row("cold scan + first registration", ours, "s", note="DVC skipped"))
        return
    repo = home / "dvc"
    generate_tree(repo / "images", files)  # same seed: the same bytes, its own copy
    try:
        with azurite("lane-dvc") as endpoint:
            add_s, push_s, pushed = dvc_add_push(repo, endpoint, "bench-dvc")
    except (RuntimeError, subprocess.CalledProcessError) as error:
        extra["dvc_error"] = str(error)
        rows.append(Row("cold scan + first registration", ours, "s", "dvc add+push",
                        target="faster than DVC", note=f"DVC failed: {error}"))  # fmt: skip
    else:
        dvc_s = add_s + push_s
        say(f"dvc add {add_s:.1f} s, push {push_s:.1f} s")
        extra["dvc"] = {"add_s": add_s, "push_s": push_s, "blobs": pushed}
        rows.append(Row("cold scan + first registration", ours, "s",
                        "dvc add + dvc push", dvc_s, ours / dvc_s,
                        "< 1x (faster than DVC)", ours < dvc_s,
                        f"dvc add {add_s:.1f} s + push {push_s:.1f} s "
                        f"({pushed} blobs pushed)"))  # fmt: skip
