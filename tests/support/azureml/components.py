"""Component versions and the code versions they point at, as two more asset kinds.

Both are plain versioned assets to the service. ``components/<name>/versions/<v>``:
``componentSpec`` is create-only (a changed spec under an existing version is a 409
Conflict) but for its ``description`` and ``tags``, which ``az ml component update``
changes. ``codes/<name>/versions/<v>``: ``codeUri`` is the path (a changed one is "Asset
paths cannot be updated.", the message azure-ai-ml's code operations look for). Bodies are
azure-ai-ml's generated ``ComponentVersion`` / ``CodeVersion`` models, read and answered
by the generic :class:`~tests.support.azureml.assets.Catalog`.
"""

from __future__ import annotations

from azure.ai.ml._restclient.arm_ml_service import models as rest

from tests.support.azureml import assets

COMPONENT_KINDS = {
    "components": assets.Kind(
        "components", "component", rest.ComponentVersion, rest.ComponentContainer,
        rest.ComponentContainerProperties, rest.ComponentVersionProperties, (),
        required="component_spec", mutable_keys=("description", "tags"),
    ),
    "codes": assets.Kind(
        "codes", "code", rest.CodeVersion, rest.CodeContainer, rest.CodeContainerProperties,
        rest.CodeVersionProperties, ("code_uri",), required="code_uri",
    ),
}  # fmt: skip
"""The kinds this module adds to :data:`tests.support.azureml.assets.KINDS`."""
