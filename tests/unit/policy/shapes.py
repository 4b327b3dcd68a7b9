"""Resources as the engine hands them to the pack: the inputs the program declares, in the
shapes the Pulumi mocks record (``tests/support/pulumi_mocks.py``) — azure-native in ARM's
camelCase with numbers as doubles, mlstack's own with their inputs model's keys."""

from __future__ import annotations

from typing import Any

from mlstack_policy.resource import Resource
from mlstack_policy.settings import Settings

ML = "azure-native:machinelearningservices:"
DYNAMIC = "pulumi-python:dynamic/mlstack:"
TAGS = {"env": "prod", "owner": "ml-platform", "cost-center": "ml-platform", "mlstack-stack": "p"}
DIGEST = "sha256:" + "ab" * 32
PROD = Settings(stack="prod", profile="prod")
STANDARD = Settings(stack="dev")


def resource(type_: str, name: str, props: dict[str, Any], *, protect: bool = False) -> Resource:
    return Resource(type=type_, name=name, props=props, protect=protect,
                    urn=f"urn:pulumi:p::mlstack::{type_}::{name}")  # fmt: skip


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, nested mappings too (None is a value: unset)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def lineage(**changes: Any) -> dict[str, Any]:
    """A training run's lineage.json as train.py writes it: pinned data and environment."""
    base = {
        "code": {"revision": "0c1d2e3"},
        "data": [
            {"name": "digits-train", "version": "3", "digest": DIGEST, "role": "train"},
            {"name": "digits-test", "version": "1", "digest": DIGEST, "role": "test"},
        ],
        "environment": {"name": "digits-env", "version": "2", "digest": DIGEST,
                        "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"},
        "parameters": {"epochs": 8.0, "seed": 42.0},
    }  # fmt: skip
    return merged(base, changes)


def model(kind: str = "ModelVersion", **changes: Any) -> Resource:
    """A model resource: ModelVersion (from a folder) or PromotedModel (pinned by digest)."""
    base: dict[str, Any] = {
        "name": "digits-cnn", "digest": DIGEST, "type": "custom_model",
        "spec": "/repo/assets/models/digits-cnn.yaml",
        "gates": {"mlstack.min.test.accuracy": 0.95},
        "properties": {"metrics": {"test": {"accuracy": 0.98, "loss": 0.07}},
                       "lineage": lineage()},
    }  # fmt: skip
    if kind == "ModelVersion":
        base |= {"source": "/repo/outputs/digits-cnn", "files": 5.0}
    else:
        base |= {"source_stack": "local", "source_version": "3"}
    return resource(f"{DYNAMIC}{kind}", "model-digits-cnn", merged(base, changes))


def storage(*, protect: bool = True, **changes: Any) -> Resource:
    base = {
        "accountName": "mlstackprod01", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
        "allowBlobPublicAccess": False, "publicNetworkAccess": "Disabled",
        "allowSharedKeyAccess": False, "tags": TAGS,
    }  # fmt: skip
    return resource("azure-native:storage:StorageAccount", "platform-storage",
                    merged(base, changes), protect=protect)  # fmt: skip


def key_vault(*, protect: bool = True, **changes: Any) -> Resource:
    base = {
        "vaultName": "mlstack-prod-kv", "tags": TAGS,
        "properties": {"publicNetworkAccess": "disabled", "enableRbacAuthorization": True,
                       "sku": {"family": "A", "name": "standard"}},
    }  # fmt: skip
    return resource("azure-native:keyvault:Vault", "platform-keyvault", merged(base, changes),
                    protect=protect)  # fmt: skip


def workspace(*, protect: bool = True, **changes: Any) -> Resource:
    base = {
        "workspaceName": "mlstack-prod", "publicNetworkAccess": "Disabled",
        "systemDatastoresAuthMode": "identity", "identity": {"type": "SystemAssigned"},
        "tags": TAGS,
    }  # fmt: skip
    return resource(f"{ML}Workspace", "platform-workspace", merged(base, changes),
                    protect=protect)  # fmt: skip


def online_endpoint(**changes: Any) -> Resource:
    base = {
        "endpointName": "digits", "kind": "Managed", "tags": TAGS,
        "properties": {"authMode": "Key", "publicNetworkAccess": "Disabled"},
    }  # fmt: skip
    return resource(f"{ML}OnlineEndpoint", "platform-endpoint-digits", merged(base, changes))


def online_deployment(**changes: Any) -> Resource:
    base = {
        "deploymentName": "blue", "endpointName": "digits", "tags": TAGS,
        "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_DS3_v2"},
    }  # fmt: skip
    return resource(f"{ML}OnlineDeployment", "platform-deployment-digits-blue",
                    merged(base, changes))  # fmt: skip


def cluster(**changes: Any) -> Resource:
    base = {
        "computeName": "cpu-cluster", "tags": TAGS,
        "properties": {
            "computeType": "AmlCompute", "disableLocalAuth": True,
            "properties": {"vmSize": "Standard_DS3_v2", "vmPriority": "Dedicated",
                           "scaleSettings": {"minNodeCount": 0.0, "maxNodeCount": 4.0,
                                             "nodeIdleTimeBeforeScaleDown": "PT120S"}},
        },
    }  # fmt: skip
    return resource(f"{ML}Compute", "platform-compute-cpu-cluster", merged(base, changes))
