"""AzurePlatform: an ``azure`` stack's Azure ML estate, with pulumi-azure-native.

One component holds the whole estate, in dependency order:

    ResourceGroup
    ├── StorageAccount (StorageV2, TLS 1.2, no public blob access) ── BlobContainer
    ├── Vault (RBAC authorisation)
    │   (both, like the workspace, off the public network when publicNetworkAccess: Disabled)
    ├── Log Analytics Workspace ── Application Insights (workspace-based)
    ├── Registry (ACR, no admin user: ``containerRegistry``)
    ├── Azure ML Registry (``mlRegistry`` with ``create: true``: models shared between
    │   stacks, ``mlstack promote --via registry``; one storage account and ACR per region)
    ├── ML Workspace (system-assigned identity; the four above wired by id)
    │   ├── Datastore (the container; identity-based unless accountKey is configured)
    │   ├── Compute (AmlCompute clusters)                      see azure_compute.py
    │   └── OnlineEndpoint ── OnlineDeployment ── traffic      see azure_endpoints.py
    └── RoleAssignment: Storage Blob Data Contributor on the account for whoever runs
        ``pulumi up`` (identity-based datastores: mlstack's providers write asset content)

Asset versions (data, models, environments) are not azure-native resources: the program
declares mlstack's own, after :attr:`AzurePlatform.asset_dependencies`. Protection
(``protect``) covers what holds data or secrets and is slow or impossible to recreate:
the workspace, the storage account, the key vault and the Azure ML registry.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_azure_native import (
    applicationinsights,
    authorization,
    containerregistry,
    keyvault,
    machinelearningservices,
    operationalinsights,
    resources,
    storage,
)

from mlstack.components.azure_endpoints import EndpointHost, code_version
from mlstack.config.azure import AzureSettings
from mlstack.config.endpoints import DeploymentSpec, EndpointSpec
from mlstack.config.stack import StackConfig
from mlstack.content.hashcache import NoCache
from mlstack.content.scan import scan

__all__ = ["BLOB_DATA_CONTRIBUTOR", "AzurePlatform"]

BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
"""The built-in role *Storage Blob Data Contributor* (read, write and delete blobs)."""


class AzurePlatform(pulumi.ComponentResource):
    """Resource group, storage, key vault, insights, registry, ML workspace and datastore."""

    resource_group: resources.ResourceGroup
    storage_account: storage.StorageAccount
    container: storage.BlobContainer
    key_vault: keyvault.Vault
    logs: operationalinsights.Workspace
    insights: applicationinsights.Component
    registry: containerregistry.Registry
    ml_registry: machinelearningservices.Registry | None
    workspace: machinelearningservices.Workspace
    datastore: machinelearningservices.Datastore
    deployer_access: authorization.RoleAssignment | None

    def __init__(
        self,
        name: str,
        settings: AzureSettings,
        stack: StackConfig,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlstack:azure:Platform", name, None, opts)
        self.prefix = name
        self.settings = settings
        tags = {"mlstack-stack": stack.stack, **stack.tags}
        self.tags = tags
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=settings.protect)
        where: dict[str, Any] = {"location": settings.location, "tags": tags}

        self.resource_group = resources.ResourceGroup(
            f"{name}-rg", resource_group_name=settings.resource_group, opts=child, **where
        )
        group = self.resource_group.name
        self.storage_account = storage.StorageAccount(
            f"{name}-storage",
            account_name=settings.storage_account,
            resource_group_name=group,
            kind="StorageV2",
            sku={"name": "Standard_LRS"},
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            enable_https_traffic_only=True,
            # Private with the workspace (prod): deployers reach it over private endpoints.
            public_network_access=settings.public_network_access,
            opts=kept,
            **where,
        )
        self.container = storage.BlobContainer(
            f"{name}-container",
            container_name=stack.datastore_container,
            account_name=self.storage_account.name,
            resource_group_name=group,
            public_access=storage.PublicAccess.NONE,
            opts=child,
        )
        tenant = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        vault: keyvault.VaultPropertiesArgsDict = {
            "tenant_id": tenant.tenant_id,
            "sku": {"family": keyvault.SkuFamily.A, "name": keyvault.SkuName.STANDARD},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "public_network_access": settings.public_network_access.lower(),
        }
        if settings.protect:
            vault["enable_purge_protection"] = True  # cannot be turned off once on
        self.key_vault = keyvault.Vault(
            f"{name}-keyvault",
            vault_name=settings.key_vault,
            resource_group_name=group,
            properties=vault,
            opts=kept,
            **where,
        )
        self.logs = operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=f"{settings.workspace_name}-logs",
            resource_group_name=group,
            sku={"name": "PerGB2018"},
            retention_in_days=30,
            opts=child,
            **where,
        )
        self.insights = applicationinsights.Component(
            f"{name}-insights",
            resource_name_=f"{settings.workspace_name}-insights",
            resource_group_name=group,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=self.logs.id,
            opts=child,
            **where,
        )
        private = settings.public_network_access == "Disabled"
        self.registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=settings.container_registry,
            resource_group_name=group,
            # Private endpoints need Premium; a public registry is fine on Basic.
            sku={"name": "Premium" if private else "Basic"},
            admin_user_enabled=False,
            opts=child,
            **where,
        )
        self.ml_registry = self._ml_registry(group, kept) if settings.ml_registry else None
        self.workspace = machinelearningservices.Workspace(
            f"{name}-workspace",
            workspace_name=settings.workspace_name,
            resource_group_name=group,
            identity=machinelearningservices.ManagedServiceIdentityArgs(
                type=machinelearningservices.ManagedServiceIdentityType.SYSTEM_ASSIGNED
            ),
            sku=machinelearningservices.SkuArgs(
                name="Basic", tier=machinelearningservices.SkuTier.BASIC
            ),
            storage_account=self.storage_account.id,
            key_vault=self.key_vault.id,
            application_insights=self.insights.id,
            container_registry=self.registry.id,
            public_network_access=settings.public_network_access,
            system_datastores_auth_mode="identity",
            friendly_name=settings.workspace_name,
            description=stack.description or f"mlstack workspace of stack {stack.stack}",
            location=settings.location,
            tags=tags,
            opts=kept,
        )
        datastore: machinelearningservices.AzureBlobDatastoreArgsDict = {
            "datastore_type": "AzureBlob",
            "account_name": self.storage_account.name,
            "container_name": self.container.name,
            "credentials": self._datastore_credentials(),
            "service_data_access_auth_identity": "WorkspaceSystemAssignedIdentity",
            "description": f"mlstack assets of stack {stack.stack}",
            "tags": tags,
        }
        self.datastore = machinelearningservices.Datastore(
            f"{name}-datastore",
            name=settings.datastore,
            workspace_name=self.workspace.name,
            resource_group_name=group,
            properties=datastore,
            opts=child,
        )
        self.deployer_id: pulumi.Output[str] = tenant.object_id
        """Whoever runs ``pulumi up`` (what role assignments for the deployer name)."""
        identity = settings.datastore_auth == "identity"
        self.deployer_access = self._deployer_access(tenant) if identity else None
        self.register_outputs(
            {
                "resource_group": group,
                "workspace": self.workspace.name,
                "workspace_id": self.workspace.id,
                "datastore": self.datastore.name,
                "container": self.container.name,
            }
        )

    def _ml_registry(
        self, group: pulumi.Input[str], kept: pulumi.ResourceOptions
    ) -> machinelearningservices.Registry | None:
        """The Azure ML registry this stack creates (``mlRegistry.create``), else None: a
        registry another stack creates is only named (by prod's deployments, by promote)."""
        ml = self.settings.ml_registry
        if ml is None or not ml.create:
            return None
        primary = ml.location or self.settings.location
        # Each region gets the system-created storage account and ACR the registry replicates
        # its assets into (Premium: geo-replication), without public blob access.
        storage: machinelearningservices.SystemCreatedStorageAccountArgsDict = {
            "storage_account_type": "Standard_LRS",
            "allow_blob_public_access": False,
            "storage_account_hns_enabled": False,
        }
        regions: list[machinelearningservices.RegistryRegionArmDetailsArgsDict] = [
            {
                "location": region,
                "acr_details": [{"system_created_acr_account": {"acr_account_sku": "Premium"}}],
                "storage_account_details": [{"system_created_storage_account": storage}],
            }
            for region in dict.fromkeys([primary, *ml.replication_locations])
        ]
        return machinelearningservices.Registry(
            f"{self.prefix}-ml-registry",
            registry_name=ml.name,
            resource_group_name=group,
            location=primary,
            identity={"type": machinelearningservices.ManagedServiceIdentityType.SYSTEM_ASSIGNED},
            public_network_access=self.settings.public_network_access,
            region_details=regions,
            tags=self.tags,
            opts=kept,
        )

    def _datastore_credentials(
        self,
    ) -> (
        machinelearningservices.NoneDatastoreCredentialsArgsDict
        | machinelearningservices.AccountKeyDatastoreCredentialsArgsDict
    ):
        """No credentials (the workspace identity reads), or the account key as a secret."""
        if self.settings.datastore_auth == "identity":
            return {"credentials_type": "None"}
        keys = storage.list_storage_account_keys_output(
            account_name=self.storage_account.name,
            resource_group_name=self.resource_group.name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        key: pulumi.Output[str] = pulumi.Output.secret(keys.apply(_first_key))
        secrets: machinelearningservices.AccountKeyDatastoreSecretsArgsDict = {
            "secrets_type": "AccountKey",
            "key": key,
        }
        return {"credentials_type": "AccountKey", "secrets": secrets}

    def _deployer_access(self, client: Any) -> authorization.RoleAssignment:
        """Let whoever runs ``pulumi up`` write asset content to the identity-based datastore
        (data-plane access is not implied by owning the subscription)."""
        role = pulumi.Output.concat(
            "/subscriptions/", self.settings.subscription_id,
            "/providers/Microsoft.Authorization/roleDefinitions/", BLOB_DATA_CONTRIBUTOR,
        )  # fmt: skip
        return authorization.RoleAssignment(
            f"{self.prefix}-deployer-blob-access",
            principal_id=client.object_id,
            role_definition_id=role,
            scope=self.storage_account.id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    @property
    def asset_dependencies(self) -> list[pulumi.Resource]:
        """What asset resources wait for: the workspace, its datastore, write access."""
        access = [self.deployer_access] if self.deployer_access is not None else []
        return [self.workspace, self.datastore, *access]

    def child_options(self, **extra: Any) -> pulumi.ResourceOptions:
        """Options for resources inside the workspace: parented here, after the workspace."""
        depends = [self.workspace, *extra.pop("depends_on", [])]
        return pulumi.ResourceOptions(parent=self, depends_on=depends, **extra)

    def host(self) -> EndpointHost:
        """This workspace as endpoints are declared in it; code goes up as blobs."""
        return EndpointHost(
            prefix=self.prefix, settings=self.settings, tags=self.tags,
            workspace_name=self.workspace.name, resource_group_name=self.resource_group.name,
            location=self.settings.location, workspace_id=self.workspace.id,
            code=self._code, parent=self, depends_on=(self.workspace,),
        )  # fmt: skip

    def _code(self, spec: EndpointSpec, deployment: DeploymentSpec) -> Any:
        """The code folder as one blob resource per file under ``code/<digest>/``."""
        manifest = scan(deployment.code, NoCache())
        prefix = f"code/{manifest.digest.removeprefix('sha256:')}"
        label = f"{self.prefix}-code-{spec.name}-{deployment.name}"
        blobs = [
            storage.Blob(
                f"{label}-{entry.path}",
                blob_name=f"{prefix}/{entry.path}",
                account_name=self.storage_account.name,
                container_name=self.container.name,
                resource_group_name=self.resource_group.name,
                source=pulumi.FileAsset(str(deployment.code / entry.path)),
                content_type="text/plain",
                opts=pulumi.ResourceOptions(parent=self),
            )
            for entry in manifest.entries
        ]
        uri = pulumi.Output.concat(
            self.storage_account.primary_endpoints.blob, self.container.name, f"/{prefix}"
        )
        return code_version(self.host(), spec, deployment, digest=manifest.digest, uri=uri,
                            after=blobs)  # fmt: skip


def _first_key(result: Any) -> str:
    return str(result.keys[0].value)
