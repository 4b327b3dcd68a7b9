"""Pulumi mocks that record what a program declares, as the engine would receive it.

A recording monitor keeps every RegisterResource request: type, name, inputs
(deserialised and raw, where secrets are marked), ``protect`` and the URNs each resource
depends on. Mock ids are recognisable (``/mock/<Type>/<name>``), so wiring by id is
asserted by value. mlstack's own dynamic resources answer with ``versions`` as their
registered version, so references to a registered version can be asserted too.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from mlstack.config.locator import AzureLocator, LocalLocator
from mlstack.project import Project

ROOT = Path(__file__).resolve().parents[2]
ARTEFACT = ROOT / "tests" / "fixtures" / "state-v0" / "artefact"

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
STORAGE_KEY = "mock-storage-key=="
DYNAMIC = "pulumi-python:dynamic/mlstack:"
# The resource's own name property per type, as the provider would return it.
_NAME_KEYS = {
    "ResourceGroup": "resourceGroupName",
    "StorageAccount": "accountName",
    "BlobContainer": "containerName",
    "Vault": "vaultName",
    "Registry": "registryName",
    "Component": "resourceName",
    "Compute": "computeName",
    "OnlineEndpoint": "endpointName",
    "OnlineDeployment": "deploymentName",
    "Blob": "blobName",
}


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    raw: dict[str, Any]
    protect: bool
    depends_on: set[str]
    urn: str = ""


@dataclass
class Recorder(Mocks):
    """Answers every resource with its inputs plus an id; records invokes."""

    calls: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    """Registered version of mlstack asset resources, by resource name or by type name
    (``ModelVersion``); a pinned version answers as itself; default "1"."""
    location: str = "westeurope"

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        kind = args.typ.split(":")[-1]
        kind = "MLWorkspace" if args.typ.endswith("machinelearningservices:Workspace") else kind
        rid = f"/mock/{kind}/{args.name}"
        state = {**args.inputs, "id": rid}
        if args.typ.startswith(DYNAMIC):  # as the provider's create answers
            version = (args.inputs.get("version_pin") or self.versions.get(args.name)
                       or self.versions.get(kind, "1"))  # fmt: skip
            state |= {"version": version, "reference": f"azureml:{state.get('name')}:{version}",
                      "uri": f"https://mock.blob/{args.name}"}  # fmt: skip
            return rid, state
        key = "workspaceName" if kind == "MLWorkspace" else _NAME_KEYS.get(kind, "name")
        state.setdefault("name", args.inputs.get(key, args.name))
        if kind == "StorageAccount":
            state["primaryEndpoints"] = {"blob": f"https://{state['name']}.blob.core.windows.net/"}
        return rid, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append(args.token)
        if args.token == "azure-native:authorization:getClientConfig":
            return {"tenantId": "mock-tenant", "subscriptionId": "s", "clientId": "c",
                    "objectId": "deployer-object-id"}, []  # fmt: skip
        if args.token == "azure-native:storage:listStorageAccountKeys":
            return {"keys": [{"keyName": "key1", "value": STORAGE_KEY, "permissions": "FULL"}]}, []
        if args.token == "azure-native:machinelearningservices:getWorkspace":
            return {"location": self.location, "name": args.args.get("workspaceName")}, []
        raise AssertionError(f"unexpected invoke {args.token}")


class RecordingMonitor(MockMonitor):  # type: ignore[misc]
    def __init__(self, mocks: Recorder) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = MessageToDict(request.object)
            self.registered.append(Registered(
                request.type, request.name, plain(raw), raw, bool(request.protect),
                set(request.dependencies), response.urn,
            ))  # fmt: skip
        return response


def plain(value: Any) -> Any:
    """Raw protobuf inputs with secrets unwrapped, for value assertions."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass
class Declared:
    resources: list[Registered]
    calls: list[str]

    def of(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registered:
        (found,) = self.of(type_)
        return found

    def named(self, name: str) -> Registered:
        (found,) = [r for r in self.resources if r.name == name]
        return found


class Absent:
    """A workspace not created yet, as a first preview plans against (the program's
    ``opener``): planning must treat it as empty."""

    container = datastore = "unused"
    endpoint = None

    def __init__(self, locator: LocalLocator | AzureLocator, _project: Project) -> None:
        self.locator = locator

    def exists(self) -> bool:
        return False


def project_copy(dest: Path) -> Project:
    """The shipped Pulumi.yaml, asset files and scoring code, the data they name (a few
    small files) and a complete model artefact above its gate, as after training."""
    shutil.copy(ROOT / "Pulumi.yaml", dest / "Pulumi.yaml")
    shutil.copytree(ROOT / "assets", dest / "assets")
    shutil.copytree(ROOT / "training", dest / "training", ignore=shutil.ignore_patterns("__py*"))
    shutil.copytree(ROOT / "steps", dest / "steps", ignore=shutil.ignore_patterns("__py*"))
    for split in ("train", "val", "test"):
        folder = dest / "data" / "digits" / split / "0"
        folder.mkdir(parents=True)
        (folder / "a.png").write_bytes(f"{split} image".encode())
    shutil.copytree(ARTEFACT, dest / "outputs" / "digits-cnn")
    return Project(dest)
