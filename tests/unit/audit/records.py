"""Model versions shaped as the workspace records them, for the audit tests."""

from __future__ import annotations

from typing import Any

from mlstack.config.models import Gate
from mlstack.workspace.asset import AssetVersion

DIGESTS = {role: "sha256:" + (str(i) * 64) for i, role in enumerate(("train", "val", "test"), 1)}
GATE = Gate("test", "accuracy", "min", 0.95)


def lineage(job: str | None = "job-7", environment: bool = True) -> dict[str, Any]:
    env = {"name": None, "version": None}
    if environment:
        env = {"name": "digits-env", "version": "2", "image": "mcr.microsoft.com/x:1",
               "digest": "sha256:" + "e" * 64}  # fmt: skip
    return {
        "data": [
            {"name": f"digits-{role}", "version": "1", "digest": DIGESTS[role], "role": role}
            for role in ("train", "val", "test")
        ],
        "job": job,
        "environment": env,
        "code": {
            "revision": "0123456789abcdef" * 2 + "01234567",
            "dirty": False,
            "script": "training/train.py",
        },
        "parameters": {"epochs": 8, "seed": 42},
        "started_at": "2026-11-30T10:00:00+00:00",
        "ended_at": "2026-11-30T10:01:00+00:00",
        "stack": "local",
    }


def version(
    accuracy: float = 0.97,
    *,
    number: str = "3",
    promotion: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
) -> AssetVersion:
    props: dict[str, Any] = {
        "metrics": {
            "test": {"accuracy": accuracy, "loss": 0.1},
            "val": {"accuracy": 0.96},
            "epochs": [{"epoch": 1, "train_loss": 0.5}],
        },
        "lineage": lineage(),
    }
    if promotion is not None:
        props["promotion"] = promotion
    return AssetVersion(
        name="digits-cnn", version=number, type="custom_model",
        uri="azureml://datastores/workspaceblobstore/paths/LocalUpload/ab/digits-cnn/",
        digest="sha256:" + "a" * 64, files=5, bytes=123_456, kind="model",
        properties=props if properties is None else properties,
        description="Small CNN", created_at="2026-11-30T10:02:00+00:00",
    )  # fmt: skip


PROMOTION = {"source_stack": "local", "source_workspace": "local:local",
             "source_version": "3", "digest": "sha256:" + "a" * 64,
             "promoted_at": "2026-11-30T11:00:00+00:00"}  # fmt: skip
