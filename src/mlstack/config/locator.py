"""Where a workspace is: the small, serialisable descriptor every asset resource carries.

A resource's inputs name its workspace by coordinates only — the stack and container on
the ``local`` target; subscription, resource group, workspace and datastore on ``azure``
— never by a path on this machine or a credential. The provider process turns a locator
into a backend at run time (:func:`mlstack.workspace.open_workspace`), finding the project
home and the Azure credential itself, so moving a checkout or signing in as someone else
is never a change to the stack.

States written before locators existed carry ``stack``, ``home`` and ``container`` at the
top level of the inputs; :func:`locator_of` reads both shapes, so such stacks upgrade
without a replacement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = ["AzureLocator", "LocalLocator", "Locator", "locator_of"]


class LocalLocator(BaseModel):
    """A ``local`` stack's workspace: its SQLite catalog and Azurite container."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Literal["local"] = "local"
    stack: str
    container: str = ""
    """The datastore container; empty means "as the stack's catalog records it"."""

    def describe(self) -> str:
        return f"local workspace of stack {self.stack!r}"


class AzureLocator(BaseModel):
    """An Azure ML workspace and the blob datastore mlstack stores asset content in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Literal["azure"] = "azure"
    subscription_id: str
    resource_group: str
    workspace: str
    datastore: str = ""
    """Empty means the workspace's default datastore."""
    blob_endpoint: str = ""
    """The datastore account's blob URL when it is not ``https://<account>.blob.<suffix>``."""

    @property
    def workspace_id(self) -> str:
        """The workspace's full ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    def describe(self) -> str:
        return f"Azure ML workspace {self.workspace!r} (resource group {self.resource_group!r})"


Locator = Annotated[LocalLocator | AzureLocator, Field(discriminator="target")]
_ADAPTER: TypeAdapter[LocalLocator | AzureLocator] = TypeAdapter(Locator)


def locator_of(props: Mapping[str, Any], key: str = "workspace") -> LocalLocator | AzureLocator:
    """The locator in resource inputs or outputs, of either state shape (see module doc)."""
    raw = props.get(key)
    if isinstance(raw, Mapping):
        return _ADAPTER.validate_python(dict(raw))
    return LocalLocator(stack=str(props["stack"]), container=str(props.get("container") or ""))
