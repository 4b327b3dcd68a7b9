"""model-lineage: every registered model version names pinned data and environment versions."""

from __future__ import annotations

import pytest

from mlstack_policy import lineage
from tests.unit.policy.shapes import DIGEST, PROD, model, resource
from tests.unit.policy.shapes import lineage as record


@pytest.mark.parametrize("kind", ["ModelVersion", "PromotedModel"])
def test_a_model_with_pinned_data_and_environment_passes(kind: str) -> None:
    assert lineage.RULE.violations(model(kind), PROD) == []


def test_no_lineage_record_is_a_violation() -> None:
    [message] = lineage.RULE.violations(model(properties={"lineage": None}), PROD)
    assert "ModelVersion 'model-digits-cnn' (model digits-cnn): it records no lineage" in message
    assert "Fix: train with training/train.py" in message


def test_floating_data_missing_digests_and_no_environment_are_each_named() -> None:
    data = [
        {"name": "digits-train", "version": "latest", "digest": ""},
        {"name": "digits-val", "version": "2"},
    ]
    loose = record(data=data, environment={"name": None, "version": None})
    [message] = lineage.RULE.violations(model(properties={"lineage": loose}), PROD)
    assert "data digits-train is not pinned to a version (version: 'latest')" in message
    assert "data digits-val:2 has no sha256 digest" in message
    assert "its lineage names no environment version" in message


def test_data_recorded_by_role_is_read_too() -> None:
    by_role = {"train": {"name": "digits-train", "version": "1", "digest": DIGEST}}
    assert lineage.RULE.violations(model(properties={"lineage": record(data=by_role)}), PROD) == []
    by_role["train"].pop("digest")
    [message] = lineage.RULE.violations(model(properties={"lineage": record(data=by_role)}), PROD)
    assert "data digits-train:1 has no sha256 digest" in message


def test_a_lineage_without_data_is_a_violation() -> None:
    [message] = lineage.RULE.violations(model(properties={"lineage": record(data=[])}), PROD)
    assert "names no data version" in message


def test_other_resources_are_not_checked() -> None:
    data = resource("pulumi-python:dynamic/mlstack:DataAsset", "data-x", {"name": "x"})
    assert lineage.RULE.violations(data, PROD) == []
