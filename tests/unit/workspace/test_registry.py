"""One version implementation for every asset kind, and the catalog's upgrade path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlstack.errors import ImmutableError
from mlstack.workspace.catalog import SCHEMA_VERSION, Catalog
from mlstack.workspace.registry import Registry


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path / "workspace.db")


def test_kinds_keep_separate_names_and_counters(catalog: Catalog) -> None:
    models, envs = Registry(catalog, "model"), Registry(catalog, "environment")
    assert (
        models.register("digits", type_="custom_model", uri="u1", digest="sha256:a")[0].version
        == "1"
    )
    assert envs.register("digits", type_="environment", uri="", digest="sha256:a")[0].version == "1"
    assert (
        models.register("digits", type_="custom_model", uri="u2", digest="sha256:b")[0].version
        == "2"
    )
    assert [v.kind for v in models.list()] == ["model", "model"]
    assert [v.kind for v in envs.list()] == ["environment"]


@pytest.mark.parametrize(
    ("kind", "message"),
    [("data", "Asset paths cannot be updated"), ("model", "immutable"), ("environment", "409")],
)
def test_each_kind_refuses_changed_content_in_its_services_words(
    catalog: Catalog, kind: str, message: str
) -> None:
    registry = Registry(catalog, kind)
    registry.register("x", type_="t", uri="u", digest="sha256:a", version="3")
    with pytest.raises(ImmutableError, match=message):
        registry.register("x", type_="t", uri="u", digest="sha256:b", version="3")


def test_properties_are_kept_and_stage_changes_in_place(catalog: Catalog) -> None:
    models = Registry(catalog, "model")
    metrics = {"test": {"accuracy": 0.97}}
    version, _ = models.register(
        "m", type_="custom_model", uri="u", digest="sha256:a", properties={"metrics": metrics}
    )
    staged = models.update("m", version.version, "d", {"t": "1"}, stage="Production")
    assert staged.stage == "Production" and staged.properties == {"metrics": metrics}


def test_a_schema_2_catalog_keeps_its_data_versions(catalog: Catalog) -> None:
    catalog.path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(catalog.path) as db:  # as release 2 wrote it
        db.execute("CREATE TABLE data_containers (name TEXT PRIMARY KEY, next_version INTEGER)")
        db.execute(
            "CREATE TABLE data_versions (name, version, type, uri, digest, files, bytes, "
            "manifest, description, tags, archived, created_at)"
        )
        db.execute("INSERT INTO data_containers VALUES ('digits', 3)")
        db.execute(
            "INSERT INTO data_versions VALUES ('digits', '2', 'uri_folder', 'u', 'sha256:a', "
            "1, 5, NULL, 'd', '{}', 1, 'then')"
        )
        db.execute("PRAGMA user_version = 2")
    data = Registry(catalog, "data")
    [old] = data.list()
    assert (old.name, old.version, old.archived, old.description) == ("digits", "2", True, "d")
    assert data.register("digits", type_="uri_folder", uri="v", digest="sha256:b")[0].version == "3"
    with sqlite3.connect(catalog.path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_latest_is_the_version_created_last_not_old_content_registered_again(
    catalog: Catalog,
) -> None:
    data = Registry(catalog, "data")
    data.register("d", type_="t", uri="u1", digest="sha256:a")
    data.register("d", type_="t", uri="u2", digest="sha256:b")
    assert data.get("d").version == "2"
    data.register("d", type_="t", uri="u1", digest="sha256:a")  # back to version 1's content
    assert data.get("d").version == "2"  # as Azure ML's: the most recently created
    data.set_archived("d", "2", True)  # an archived latest falls back to the newest left
    assert data.get("d").version == "1"
    data.register("d", type_="t", uri="u0", digest="sha256:c", version="0")
    assert data.get("d").version == "0"  # created last, though not the highest number


def test_a_schema_4_catalog_gets_latest_back_on_the_version_created_last(
    catalog: Catalog,
) -> None:
    data = Registry(catalog, "data")
    data.register("d", type_="t", uri="u1", digest="sha256:a")
    data.register("d", type_="t", uri="u2", digest="sha256:b")
    with sqlite3.connect(catalog.path) as db:  # as schema 4 left it after going back to "1"
        db.execute("UPDATE containers SET latest = '1'")
        db.execute("PRAGMA user_version = 4")
    assert data.get("d").version == "2"
    with sqlite3.connect(catalog.path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
