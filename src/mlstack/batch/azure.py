"""A batch invoke on an azure stack: submitted through azure-ai-ml, input pinned.

``@latest`` is resolved here through the workspace protocol, so the job names one exact
data version (``azureml:<name>:<version>``) and reruns of the same command are
comparable; Azure ML then runs the endpoint's deployment on its compute cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlstack.batch.local import live_version
from mlstack.config.specfile import azure_ml_quiet
from mlstack.workspace.asset import AssetRef
from mlstack.workspace.protocol import AssetRegistry

__all__ = ["SubmittedJob", "submit"]


@dataclass(frozen=True)
class SubmittedJob:
    """The batch scoring job Azure ML accepted."""

    name: str
    endpoint: str
    deployment: str
    input: str

    def to_dict(self) -> dict[str, str]:
        return {"job": self.name, "endpoint": self.endpoint, "deployment": self.deployment,
                "input": self.input}  # fmt: skip

    def __str__(self) -> str:
        return (
            f"batch job {self.name} on {self.endpoint}/{self.deployment} over {self.input}: "
            f"follow it with `az ml job show -n {self.name}` or in Azure ML studio"
        )


def submit(
    client: Any, endpoint: str, deployment: str, data: AssetRegistry, input_ref: str
) -> SubmittedJob:
    """Invoke ``endpoint``'s ``deployment`` over the exact data version ``input_ref`` names."""
    version = live_version(data, AssetRef.parse(input_ref.removeprefix("azureml:")))
    pinned = f"azureml:{version.name}:{version.version}"
    with azure_ml_quiet():
        from azure.ai.ml import Input  # noqa: PLC0415 - slow import, only submitting needs it

        job = client.batch_endpoints.invoke(
            endpoint_name=endpoint,
            deployment_name=deployment,
            input=Input(type=version.type or "uri_folder", path=pinned),
        )
    return SubmittedJob(str(job.name), endpoint, deployment, pinned)
