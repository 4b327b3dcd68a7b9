"""models-by-promotion: a production stack registers models only by promotion."""

from __future__ import annotations

from mlstack_policy import promotion
from tests.unit.policy.shapes import ML, PROD, model, resource


def test_a_promoted_model_passes() -> None:
    assert promotion.RULE.violations(model("PromotedModel"), PROD) == []


def test_a_model_from_a_training_folder_is_refused_with_the_promote_command() -> None:
    [message] = promotion.RULE.violations(model("ModelVersion"), PROD)
    assert message.startswith("ModelVersion 'model-digits-cnn' registers model 'digits-cnn'")
    assert "/repo/outputs/digits-cnn" in message
    assert "`mlstack promote digits-cnn --from <stack> --to prod`" in message
    assert "mlstack:modelSource: promotion" in message


def test_an_azure_native_model_version_is_refused_too() -> None:
    native = resource(f"{ML}ModelVersion", "raw-model", {"name": "digits-cnn", "version": "4"})
    [message] = promotion.RULE.violations(native, PROD)
    assert "ModelVersion 'raw-model'" in message and "azure-native" in message


def test_only_production_stacks_are_held_to_it() -> None:
    assert promotion.RULE.prod_only
    assert PROD.level("models-by-promotion", prod_only=True) == "mandatory"
