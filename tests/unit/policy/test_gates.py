"""model-gates: every registered model version passes the gates its model declares."""

from __future__ import annotations

import math

from mlstack_policy import gates
from tests.unit.policy.shapes import PROD, model


def test_a_model_meeting_its_gates_passes() -> None:
    within = model(gates={"mlstack.min.test.accuracy": 0.95, "mlstack.max.test.loss": 0.1})
    assert gates.RULE.violations(within, PROD) == []


def test_a_model_without_gates_passes() -> None:
    assert gates.RULE.violations(model("PromotedModel", gates={}), PROD) == []


def test_a_version_below_a_raised_gate_is_refused_naming_metric_gate_and_spec() -> None:
    raised = model("PromotedModel", gates={"mlstack.min.test.accuracy": 0.99})
    [message] = gates.RULE.violations(raised, PROD)
    assert "PromotedModel 'model-digits-cnn' (model digits-cnn)" in message
    assert "test.accuracy 0.98 is below its gate 0.99" in message
    assert "/repo/assets/models/digits-cnn.yaml" in message


def test_max_gates_missing_and_nan_metrics_fail() -> None:
    metrics = {"test": {"accuracy": math.nan, "loss": 0.4}}
    bad = model(
        gates={"mlstack.min.test.accuracy": 0.9, "mlstack.max.test.loss": 0.3,
               "mlstack.min.val.f1": 0.5},
        properties={"metrics": metrics},
    )  # fmt: skip
    [message] = gates.RULE.violations(bad, PROD)
    assert "test.accuracy is nan, not a number" in message
    assert "test.loss 0.4 is above its gate 0.3" in message
    assert "val.f1 is not in its metrics" in message


def test_flat_metric_names_are_read_as_the_program_reads_them() -> None:
    flat = model(properties={"metrics": {"test.accuracy": 0.97}})
    assert gates.RULE.violations(flat, PROD) == []
