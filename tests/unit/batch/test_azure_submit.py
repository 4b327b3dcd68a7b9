"""Contract test of a batch invoke on Azure: the exact requests azure-ai-ml sends for it.

azure-ai-ml runs for real (MLClient, its operations, its HTTP pipeline); only the
transport is canned: a requests adapter that records each request and answers as ARM and
the batch endpoint's scoring URI answer. ``@latest`` is resolved through the workspace
protocol first, so the job body names one exact data version.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3 import HTTPResponse

from mlstack.batch.azure import submit
from mlstack.workspace.azure import AzureMLWorkspace
from tests.unit.workspace.test_azure_contract import (
    CREATED,
    SETTINGS,
    WS,
    Credential,
    data_version,
)

SCORING = "https://digits-batch.westeurope.inference.ml.azure.com/jobs"
ENDPOINT = "/batchEndpoints/digits-batch"


class Canned(BaseAdapter):
    """Records (method, host, path, query, body) and answers from ``table`` by path."""

    def __init__(self, table: dict[tuple[str, str, str | None], Any]) -> None:
        super().__init__()
        self.table = table
        self.calls: list[tuple[str, str, str, dict[str, str], Any]] = []
        self.headers: list[dict[str, str]] = []
        self._builder = HTTPAdapter()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(str(request.url))
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body
        path = url.path.removeprefix(WS)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.calls.append((str(request.method), url.netloc, path, query,
                           json.loads(raw) if raw else None))  # fmt: skip
        self.headers.append(dict(request.headers))
        key = (str(request.method), path, query.get("listViewType"))
        status, payload = self.table.get(key, (404, {"error": {
            "code": "UserError", "message": f"Not found: {path}"}}))  # fmt: skip
        data = json.dumps(payload).encode()
        response = HTTPResponse(body=io.BytesIO(data), status=status, preload_content=False,
                                headers={"Content-Type": "application/json"})  # fmt: skip
        return self._builder.build_response(request, response)

    def close(self) -> None:
        self._builder.close()


def table() -> dict[tuple[str, str, str | None], Any]:
    uri = "azureml://datastores/mlstack/paths/LocalUpload/ab/digits-test/"
    versions = [data_version("digits-test", v, uri) for v in ("1", "2")]
    deployment = {"id": f"{WS}{ENDPOINT}/deployments/default", "name": "default",
                  "systemData": CREATED, "location": "westeurope",
                  "properties": {"compute": "cpu-cluster"}}  # fmt: skip
    endpoint = {"id": f"{WS}{ENDPOINT}", "name": "digits-batch", "systemData": CREATED,
                "location": "westeurope",
                "properties": {"authMode": "AADToken", "scoringUri": SCORING}}  # fmt: skip
    job = {"id": "batchjob-1", "name": "batchjob-1",
           "properties": {"status": "Queued", "jobType": "Batch"}}  # fmt: skip
    return {
        ("GET", "/data/digits-test/versions", "All"): (200, {"value": versions}),
        ("GET", "/data/digits-test/versions", "ArchivedOnly"): (200, {"value": []}),
        ("GET", "/data/digits-test/versions/2", None): (200, versions[1]),
        ("GET", f"{ENDPOINT}/deployments", None): (200, {"value": [deployment]}),
        ("GET", ENDPOINT, None): (200, endpoint),
        ("POST", "/jobs", None): (200, job),
    }


def test_invoke_submits_the_exact_data_version_to_the_named_deployment() -> None:
    canned = Canned(table())
    session = requests.Session()
    session.mount("https://", canned)
    ws = AzureMLWorkspace.connect(
        SETTINGS, Credential(), transport=RequestsTransport(session=session)
    )

    job = submit(ws.client, "digits-batch", "default", ws.data, "azureml:digits-test@latest")

    assert (job.name, job.input) == ("batchjob-1", "azureml:digits-test:2")
    posts = [c for c in canned.calls if c[0] == "POST"]
    (post,) = posts
    _method, host, path, _query, body = post
    assert (host, path) == ("digits-batch.westeurope.inference.ml.azure.com", "/jobs")
    assert body == {"properties": {"inputData": {"UriFolder": {
        "jobInputType": "UriFolder",
        "uri": f"{WS}/data/digits-test/versions/2",  # pinned, not @latest
    }}}}  # fmt: skip
    headers = canned.headers[canned.calls.index(post)]
    assert headers["azureml-model-deployment"] == "default"
    assert headers["Authorization"] == "Bearer canned-token"
    # @latest resolved through the workspace protocol (archived versions skipped), the
    # deployment checked to exist, the endpoint's scoring URI read; then the one POST.
    assert [(c[0], c[2], c[3].get("listViewType")) for c in canned.calls] == [
        ("GET", "/data/digits-test", None),
        ("GET", "/data/digits-test/versions", "All"),
        ("GET", "/data/digits-test/versions", "ArchivedOnly"),
        ("GET", f"{ENDPOINT}/deployments", None),
        ("GET", ENDPOINT, None),
        ("POST", "/jobs", None),
    ]
