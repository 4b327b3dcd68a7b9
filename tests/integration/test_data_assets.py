"""Bad data asset input through the real pulumi engine (versions, review and crashes on both
targets: ``test_asset_targets.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack.content.blobstore import BlobEndpoint
from mlstack.project import Project
from tests.integration.conftest import Pulumi, add_data

pytestmark = pytest.mark.integration


def test_bad_asset_files_fail_the_preview_with_every_problem_and_change_nothing(
    pulumi: Pulumi, project: Project, digits: Path, endpoint: BlobEndpoint
) -> None:
    add_data(pulumi, project, digits)
    folder = pulumi.cwd / "assets" / "data"
    (folder / "broken.yaml").write_text("name: broken\ntype: uri_folder\npath: [unclosed\n")
    (folder / "missing.yaml").write_text("name: missing\ntype: uri_folder\npath: ../../nowhere\n")
    (folder / "twin.yaml").write_text((folder / "digits-val.yaml").read_text())

    result = pulumi.run("up", "--yes", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    for file in ("broken.yaml", "missing.yaml", "twin.yaml"):
        assert f"assets/data/{file}" in output, f"{file} not named in:\n{output}"
    assert "does not exist" in output and "digits-val" in output
    assert f"mlstack-{pulumi.stack}" not in {c.name for c in endpoint.client().list_containers()}
