from __future__ import annotations

import pytest

from mlstack.config.naming import container_for_stack, container_problem, stack_problem


@pytest.mark.parametrize("name", ["abc", "mlstack-local", "a1-b2-c3", "x" * 63])
def test_valid_container_names(name: str) -> None:
    assert container_problem(name) is None


@pytest.mark.parametrize(
    "name", ["ab", "x" * 64, "Upper", "-lead", "trail-", "dou--ble", "under_score", "dot.ted"]
)
def test_invalid_container_names_say_the_rule(name: str) -> None:
    problem = container_problem(name)
    assert problem is not None
    assert repr(name) in problem and "3-63 lowercase" in problem


@pytest.mark.parametrize(
    "stack", ["local", "local-prod", "Dev_Team.1", "x", "a--b__c", "UPPER", "9" * 90]
)
def test_container_for_any_valid_stack_is_a_valid_container(stack: str) -> None:
    assert stack_problem(stack) is None
    assert container_problem(container_for_stack(stack)) is None


def test_container_for_stack_is_readable() -> None:
    assert container_for_stack("local-prod") == "mlstack-local-prod"
    assert container_for_stack("Dev_Team.1") == "mlstack-dev-team-1"


def test_stack_problem() -> None:
    assert stack_problem("has space") is not None
