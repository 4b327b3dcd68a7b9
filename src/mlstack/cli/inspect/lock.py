"""A conda environment spec pinned from the project's own lock (``uv.lock``).

The direct dependencies come from ``[project.dependencies]`` of ``pyproject.toml``; each
is pinned to the version ``uv.lock`` resolved, so the environment a job trains in holds
exactly what the tests ran against.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlstack.errors import MlstackError

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")
_PYTHON = re.compile(r"(?:>=|==|~=)\s*(\d+)\.(\d+)")  # ">=3.11", "==3.11.*"


def normalise(name: str) -> str:
    """PEP 503 form, the one uv.lock writes: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    """One direct dependency pinned to its locked version (extras and marker kept)."""

    name: str
    version: str
    extras: str = ""
    marker: str = ""

    def __str__(self) -> str:
        marker = f"; {self.marker}" if self.marker else ""
        return f"{self.name}{self.extras}=={self.version}{marker}"


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise MlstackError(f"{path} is missing: {what}") from None
    except tomllib.TOMLDecodeError as error:
        raise MlstackError(f"{path} is not valid TOML ({error}): {what}") from None


def _locked(lock: dict[str, Any]) -> dict[str, list[str]]:
    versions: dict[str, list[str]] = {}
    for package in lock.get("package", []):
        if "version" in package:
            versions.setdefault(normalise(package["name"]), []).append(str(package["version"]))
    return versions


def locked_pins(root: Path, only: list[str] | None = None) -> tuple[str, list[Pin]]:
    """(python ``major.minor``, pins) from ``root``'s pyproject.toml and uv.lock."""
    project = _read_toml(root / "pyproject.toml", "run from inside the project").get("project", {})
    lock = _read_toml(root / "uv.lock", "run `uv lock` to write the lock first")
    versions = _locked(lock)
    wanted = {normalise(name) for name in only or []}
    pins: list[Pin] = []
    for requirement in project.get("dependencies", []):
        text, _, marker = str(requirement).partition(";")
        match = _NAME.match(text)
        if match is None:
            raise MlstackError(f"pyproject.toml: cannot read dependency {requirement!r}")
        name, key = match[1], normalise(match[1])
        if wanted and key not in wanted:
            continue
        found = versions.get(key, [])
        if len(found) != 1:
            state = "is not" if not found else f"has {len(found)} versions ({', '.join(found)})"
            raise MlstackError(
                f"{name} {state} in uv.lock: run `uv lock` so the lock matches pyproject.toml"
                + (", or leave it out with --only" if found else "")
            )
        pins.append(Pin(name, found[0], match[2] or "", marker.strip()))
    missing = wanted - {normalise(p.name) for p in pins}
    if missing:
        raise MlstackError(
            f"--only {', '.join(sorted(missing))}: not a direct dependency in pyproject.toml"
        )
    requires = str(lock.get("requires-python") or project.get("requires-python") or "")
    python = _PYTHON.search(requires)
    if python is None:
        raise MlstackError('pyproject.toml sets no `requires-python = ">=3.X"` to pin python')
    return f"{python[1]}.{python[2]}", pins


def conda_spec(name: str, python: str, pins: list[Pin]) -> str:
    """The conda file's text: python and pip from conda-forge, every pin through pip."""
    spec = {
        "name": name,
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": [str(p) for p in pins]}],
    }
    head = (
        "# Written by `mlstack env from-project`: pins match uv.lock, so the training\n"
        "# environment equals the one the tests ran in. Rewrite it after `uv lock`.\n"
    )
    return head + yaml.safe_dump(spec, sort_keys=False, width=100)
