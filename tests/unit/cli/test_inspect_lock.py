"""``mlstack env from-project``: conda pins from pyproject.toml + uv.lock."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlstack.cli.inspect.lock import conda_spec, locked_pins
from mlstack.errors import MlstackError

PYPROJECT = """
[project]
name = "demo"
requires-python = ">=3.11,<3.12"
dependencies = [
    "torch==2.14.*",
    "Pillow>=11",
    "uvicorn[standard]>=0.38",
    "pywin32>=300; sys_platform == 'win32'",
]
"""
LOCK = """
version = 1
requires-python = ">=3.11, <3.12"

[[package]]
name = "torch"
version = "2.14.1"

[[package]]
name = "pillow"
version = "13.0.0"

[[package]]
name = "uvicorn"
version = "0.38.2"

[[package]]
name = "pywin32"
version = "311"

[[package]]
name = "demo"
source = { editable = "." }
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "uv.lock").write_text(LOCK)
    return tmp_path


def test_every_direct_dependency_is_pinned_to_its_locked_version(root: Path) -> None:
    python, pins = locked_pins(root)
    assert python == "3.11"
    assert [str(p) for p in pins] == [
        "torch==2.14.1",
        "Pillow==13.0.0",
        "uvicorn[standard]==0.38.2",
        "pywin32==311; sys_platform == 'win32'",
    ]
    spec = yaml.safe_load(conda_spec("demo-env", python, pins))
    assert spec["name"] == "demo-env"
    assert spec["dependencies"][:2] == ["python=3.11", "pip"]
    assert spec["dependencies"][2]["pip"][0] == "torch==2.14.1"


def test_only_keeps_the_named_dependencies(root: Path) -> None:
    _, pins = locked_pins(root, ["pillow", "TORCH"])
    assert [str(p) for p in pins] == ["torch==2.14.1", "Pillow==13.0.0"]
    with pytest.raises(MlstackError, match="--only numpy: not a direct dependency"):
        locked_pins(root, ["numpy"])


def test_a_stale_or_missing_lock_says_to_run_uv_lock(root: Path) -> None:
    (root / "uv.lock").write_text(LOCK.replace('name = "pillow"', 'name = "other"'))
    with pytest.raises(MlstackError, match=r"Pillow is not in uv.lock: run `uv lock`"):
        locked_pins(root)
    (root / "uv.lock").unlink()
    with pytest.raises(MlstackError, match=r"uv\.lock is missing: run `uv lock`"):
        locked_pins(root)


def test_the_project_own_lock_pins_what_the_shipped_env_does() -> None:
    repo = Path(__file__).resolve().parents[3]
    shipped = yaml.safe_load((repo / "assets/environments/digits-env.conda.yaml").read_text())
    pip = shipped["dependencies"][2]["pip"]
    _, pins = locked_pins(repo, [p.partition("==")[0] for p in pip])
    assert sorted(str(p) for p in pins) == sorted(pip)
