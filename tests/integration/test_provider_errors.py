"""A failure a provider expects reads as one line with what to do; a bug keeps its traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.project import Project
from tests.integration.conftest import add_data, local_config, new_stack

pytestmark = pytest.mark.integration


def test_azurite_not_running_is_one_line_saying_how_to_start_it(
    tmp_path: Path, project: Project, digits: Path
) -> None:
    home = tmp_path / "home-without-azurite"  # nothing listens for this home
    cli = new_stack(project.root, tmp_path / "project", home, local_config(project))
    add_data(cli, project, digits)

    result = cli.run("up", "--yes", check=False)
    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert "start it with `mlstack local start`" in said
    assert "Traceback" not in said, said
    assert "grpc" not in said, said
    cli.run("stack", "rm", "--yes", "--force", cli.stack, check=False)
