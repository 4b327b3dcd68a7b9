from __future__ import annotations

import pytest

from mlstack.config.stack import load_stack_config
from mlstack.errors import ConfigError


def test_defaults() -> None:
    config = load_stack_config("local", {})
    assert config.target == "local"
    assert config.datastore_container == "mlstack-local"
    assert config.tags == {}


def test_camel_case_keys_and_explicit_container() -> None:
    config = load_stack_config("dev", {"container": "team-data", "tags": {"env": "dev"}})
    assert config.datastore_container == "team-data"
    assert config.tags == {"env": "dev"}


def test_every_problem_is_reported_at_once_with_file_and_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_stack_config(
            "local",
            {"target": "moon", "container": "Bad_Name", "contaner": "x", "tags": {"a": 1}},
        )
    problems = {p.field: p for p in caught.value.problems}
    assert set(problems) == {
        "mlstack:target",
        "mlstack:container",
        "mlstack:contaner",
        "mlstack:tags.a",
    }
    assert all(p.file == "stacks/Pulumi.local.yaml" for p in problems.values())
    assert "remove it or correct its spelling" in problems["mlstack:contaner"].reason
    assert "3-63 lowercase" in problems["mlstack:container"].reason
    message = str(caught.value)
    assert message.startswith("4 problems in the configuration:")
    assert "stacks/Pulumi.local.yaml: mlstack:target:" in message


def test_invalid_stack_name() -> None:
    with pytest.raises(ConfigError) as caught:
        load_stack_config("bad stack", {})
    assert caught.value.problems[0].field == "stack name"
