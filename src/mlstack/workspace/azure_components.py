"""Component versions in an Azure ML workspace, through ``MLClient.components``.

A component version is registered as Azure ML registers one from ``az ml component
create``: its code folder — already stored and verified in the datastore by
:func:`mlstack.workspace.register_folder` — becomes a code asset version
(``<component>-code:<first 32 hex of the code digest>``, write-once like every asset),
and the command component points at that code version and at its environment. The
canonical spec, the digest and the code's datastore URI ride in the version's immutable
``properties``, so reading a version back never depends on how the service rewrites
the spec (ARM ids for code and environment).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from azure.ai.ml.entities import CommandComponent
from azure.ai.ml.entities._assets import Code  # not re-exported; MLClient._code takes it

from mlstack.content.manifest import Manifest
from mlstack.workspace.asset import AssetVersion
from mlstack.workspace.azure_registry import (
    BYTES,
    DIGEST,
    FILES,
    AzureRegistry,
    created_at,
    decode_properties,
    encode_properties,
    service_errors,
)

__all__ = ["AzureComponentRegistry"]

URI = "mlstack.uri"


class AzureComponentRegistry(AzureRegistry):
    """The component versions of one workspace, with the other kinds' semantics."""

    def __init__(self, client: Any, manifests: Callable[[str, str, str], Manifest]) -> None:
        super().__init__(client.components, "component", manifests)
        self._client = client

    def _version(self, entity: Any, archived: bool) -> AssetVersion:
        raw = dict(entity.properties or {})
        return AssetVersion(
            name=entity.name, version=str(entity.version), type=str(entity.type),
            uri=raw.get(URI, ""), digest=raw.get(DIGEST, ""), files=int(raw.get(FILES, 0)),
            bytes=int(raw.get(BYTES, 0)), description=entity.description or "",
            tags=dict(entity.tags or {}), archived=archived, created_at=created_at(entity),
            kind=self.kind, properties=decode_properties(raw),
        )  # fmt: skip

    def _code(self, name: str, uri: str, code_digest: str) -> str:
        """The ARM id of the code version holding the stored folder at ``uri``."""
        code = Code(name=f"{name}-code", version=code_digest.removeprefix("sha256:")[:32], path=uri)
        with service_errors(f"registering the code of component {name}"):
            created = self._client._code.create_or_update(code)
        return str(created.id)

    def _entity(  # type: ignore[override]  # a component, not Data | Model | Environment
        self,
        name: str,
        version: str,
        *,
        type_: str,
        uri: str,
        digest: str,
        counts: tuple[int, int] | None,
        properties: Mapping[str, Any],
        description: str,
        tags: Mapping[str, str],
        stage: str,
    ) -> CommandComponent:
        spec = dict(properties.get("spec") or {})
        code_digest = str(properties.get("code_digest") or digest)
        encoded = encode_properties(properties, digest, counts) | {URI: uri}
        # As azure-ai-ml's loader leaves it (`name@label`, `name:version`): with the
        # `azureml:` prefix, its label resolution would look the prefix up as part of the name.
        environment = str(spec.get("environment") or "").removeprefix("azureml:") or None
        return CommandComponent(
            name=name, version=version, description=description, tags=dict(tags),
            properties=encoded, command=spec.get("command"), environment=environment,
            inputs=spec.get("inputs") or {}, outputs=spec.get("outputs") or {},
            is_deterministic=bool(spec.get("is_deterministic", True)),
            code=self._code(name, uri, code_digest),
        )  # fmt: skip
