"""The routing table: Azure ML's traffic rules, weighted choice, atomic reload."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from mlstack.serving import EndpointKeys, Routes
from mlstack.serving.routes import RoutesFile

DIGESTS = EndpointKeys("k1", "k2").digests()
URLS = {"blue": "http://127.0.0.1:1", "green": "http://127.0.0.1:2"}


def routes(**changes: object) -> Routes:
    fields: dict[str, object] = {
        "endpoint": "digits", "keys_sha256": DIGESTS, "deployments": URLS,
        "traffic": {"blue": 90, "green": 10},
    }  # fmt: skip
    fields.update(changes)
    return Routes(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"traffic": {"blue": 60, "green": 30}}, "traffic must sum to 100 (or 0); got 90"),
        ({"traffic": {"red": 100}}, "traffic names 'red', which is not a deployment"),
        ({"traffic": {"blue": 100.0}}, "traffic['blue'] must be an integer 0-100"),
        ({"mirror_traffic": {"green": 60}}, "mirror_traffic must sum to at most 50; got 60"),
        ({"keys_sha256": ("k1",)}, "keys_sha256 entries must be sha256 hex digests, not keys"),
        ({"keys_sha256": ()}, "keys_sha256 must list at least one key digest"),
        ({"max_body_bytes": 0}, "max_body_bytes must be positive"),
    ],
)
def test_invalid_tables_are_refused_with_the_reason(
    changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError, match="invalid routes for endpoint 'digits'") as caught:
        routes(**changes)
    assert reason in str(caught.value)


def test_pick_follows_weights_and_skips_zero_and_excluded() -> None:
    rng = random.Random(7)  # noqa: S311 - a seeded draw, not security
    table = routes(traffic={"blue": 75, "green": 25})
    counts = Counter(table.pick(rng) for _ in range(4000))
    assert 2800 < counts["blue"] < 3200
    assert counts["blue"] + counts["green"] == 4000
    only_blue = routes(traffic={"blue": 100, "green": 0})
    assert {only_blue.pick(rng) for _ in range(200)} == {"blue"}
    assert only_blue.pick(rng, exclude=frozenset({"blue"})) is None
    assert routes(traffic={}).pick(rng) is None


def test_mirrors_draws_each_mirror_with_its_share() -> None:
    rng = random.Random(3)  # noqa: S311 - a seeded draw, not security
    table = routes(traffic={"blue": 100}, mirror_traffic={"green": 20})
    hits = sum(table.mirrors(rng) == ["green"] for _ in range(5000))
    assert 850 < hits < 1150


def test_round_trip_through_the_file_is_exact_and_sorted(tmp_path: Path) -> None:
    table = routes(mirror_traffic={"green": 10})
    path = tmp_path / "routes.json"
    table.write(path)
    assert Routes.load(path) == table
    assert list(json.loads(path.read_text())) == sorted(table.to_dict())
    assert [p.name for p in tmp_path.iterdir()] == ["routes.json"]  # no temporary left


def test_routes_file_reloads_on_change_and_keeps_the_last_good_table(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    routes().write(path)
    watched = RoutesFile(path)
    assert watched.current().traffic == {"blue": 90, "green": 10}
    routes(traffic={"green": 100}).write(path)
    assert watched.current().traffic == {"green": 100}
    tmp = tmp_path / "bad.json"
    tmp.write_text(json.dumps({**routes().to_dict(), "traffic": {"green": 50}}))
    tmp.replace(path)
    assert watched.current().traffic == {"green": 100}


def test_a_bad_file_at_start_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match="endpoint and keys_sha256"):
        RoutesFile(path)
