"""A loopback Azure ML service: test infrastructure, never a user-facing target.

A stateful HTTPS server on 127.0.0.1, in a thread of the test process, that answers the
Azure Resource Manager requests the *real* ``azure.ai.ml.MLClient`` (azure-ai-ml 1.35) and
mlstack's ``AzureMLWorkspace`` send, so that other processes (the ``pulumi`` engine's
dynamic-provider hosts, the CLI) can run against it with nothing patched. Blob content
lives in Azurite; the service only names the account, container and key, so workspaces
whose datastores are in different Azurite accounts (``add_workspace(blob=...)``; the
session's Azurite serves two, ``tests/support/accounts.py``) make a promotion really cross
storage accounts.

Requests served (``routes.py`` has the table): cloud metadata; the workspace; datastores
(get, list with ``isDefault``, ``listSecrets``); data, model and environment containers
(list, get, PUT) and versions (list, get, PUT, DELETE). The api-versions MLClient sends,
recorded from it: data and environments ``2023-04-01-preview``, models
``2023-08-01-preview``, datastores ``2024-10-01-preview``; any api-version is accepted.

Where the fidelity comes from:

- **Shapes**: every body is parsed and built with azure-ai-ml's own generated models
  (``azure.ai.ml._restclient.arm_ml_service.models``, which serve every api-version in
  1.35): ``DataVersionBase`` / ``ModelVersion`` / ``EnvironmentVersion``, their
  containers, ``Datastore`` + ``AzureBlobDatastore``, ``AccountKeyDatastoreSecrets``,
  ``Workspace``, ``SystemData``, ``ErrorResponse``. Only the list envelope
  (``value`` / ``nextLink``) and the ARM cloud metadata document have no model.
- **Write-once versions** (``assets.py``): which fields cannot change comes from the
  models' own visibility metadata (create-only fields) plus the model path; the refusal
  of a changed path is the service's "Asset paths cannot be updated." with code
  ``UserError`` (the string azure-ai-ml's data/model operations test for), status 400
  (Azure ML's status for ``UserError`` refusals); other changes are 409, which
  azure-ai-ml's environment auto-versioning relies on (``ResourceExistsError`` → next
  version). Archive/restore is MLClient's GET + PUT with ``isArchived``; ``listViewType``
  filters on it. Data versions cannot be deleted (400: the service dropped dataset
  deletion for archiving).
- **Errors**: ARM's ``{"error": {"code", "message"}}``. A missing resource group or
  workspace answers with ARM's own codes and wording (``ResourceGroupNotFound``,
  ``ParentResourceNotFound`` for anything under the workspace, ``ResourceNotFound`` for
  the workspace itself), so "no workspace yet" is told apart from a missing asset
  (404 ``UserError``; that wording is ours). 401 ``AuthenticationFailed`` /
  ``InvalidAuthenticationToken`` with a ``WWW-Authenticate`` challenge (no claims, so
  azure-core makes no second attempt).
- **Paging**: lists page with an absolute ``nextLink`` carrying ``$skip``, as MLClient's
  pager follows it; ``$top`` and ``$orderBy`` (createdtime / modifiedtime) are honoured.

Reaching it (``AzureMLService.env()``), and why nothing leaves loopback:

- ``ARM_CLOUD_METADATA_URL`` = the service's ``/metadata/endpoints``: azure-ai-ml reads
  the cloud from there, so ``resourceManager`` (every ARM request, and the token scope)
  is the service. ``AZUREML_CURRENT_CLOUD`` names that cloud, because azure-ai-ml caches
  the cloud name in this variable and a process that built an MLClient before would
  otherwise keep talking to the public cloud.
- ``AZURE_TOKEN_CREDENTIALS=AzureCliCredential`` and ``PATH`` with the service's stand-in
  ``az`` first: the real ``DefaultAzureCredential`` runs only ``AzureCliCredential``, which
  runs that script (no IMDS probe, no MSAL, no socket; see ``auth.py``).
- ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``: the test CA (``trustme``) that signed the
  service's certificate for 127.0.0.1 (azure-core's bearer policy refuses plain http).
- ``NO_PROXY`` / ``no_proxy`` with 127.0.0.1 and localhost: a proxy configured on the
  machine is never handed loopback traffic.

``network.py`` proves it in the tests: an audit hook records (and refuses) every name
look-up and connection to a non-loopback host while MLClient, the credential and mlstack
work.

Not emulated: azure-ai-ml's own uploader (it builds ``https://<account>.blob.<suffix>``
itself; mlstack uploads through ``blob_url`` instead), registries beyond discovery, model
versions and import (``registries.py``: no registry content, data or environments), jobs,
computes, endpoints, workspace creation through ARM, SAS or identity-based datastores,
RBAC, ETags, token expiry.
"""

from tests.support.azureml.server import AzureMLService, WorkspaceRef

__all__ = ["AzureMLService", "WorkspaceRef"]
