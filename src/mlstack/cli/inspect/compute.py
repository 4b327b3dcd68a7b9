"""``mlstack compute list``: where jobs run.

On the local target, this machine (cores, memory, accelerators). On Azure, the
workspace's compute as ``az ml compute list`` shows it (one request); the machine-only
columns are ``None`` there, since a cluster's nodes are described by its VM size.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from mlstack.cli.inspect.azure import AzureView, open_azure
from mlstack.cli.inspect.common import emit, human_bytes
from mlstack.cli.lineage import Format, FormatOption, StackOption
from mlstack.stack import open_stack

compute_app = typer.Typer(help="Compute targets of the stack's workspace.", no_args_is_help=True)


@dataclass(frozen=True)
class ComputeTarget:
    """One compute target, in the columns `az ml compute list` shows."""

    name: str
    type: str
    size: str
    min_instances: int | None
    max_instances: int | None
    state: str
    cores: int | None = None
    memory_bytes: int | None = None
    accelerators: tuple[str, ...] = ()


# A GPU torch can use needs the NVIDIA (or ROCm) kernel driver; without one, importing
# torch (seconds) to learn "none" is skipped.
_GPU_DRIVERS = (Path("/proc/driver/nvidia"), Path("/dev/kfd"))


def accelerators() -> tuple[str, ...]:
    """CUDA devices torch can use; torch is imported only when it and a driver are present."""
    if importlib.util.find_spec("torch") is None or not any(p.exists() for p in _GPU_DRIVERS):
        return ()
    import torch  # noqa: PLC0415 - a slow import, needed only here

    if not torch.cuda.is_available():
        return ()
    return tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def local_machine() -> ComputeTarget:
    """This machine as the local target's only compute: training runs as a local process."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    found = accelerators()
    size = f"{cores or 0} cores, {human_bytes(memory)}" + (f", {len(found)} GPU" if found else "")
    return ComputeTarget("local", "local", size, 1, 1, "available", cores or 0, memory,
                         found)  # fmt: skip


def _azure_target(compute: Any) -> ComputeTarget:
    """A compute entity in our columns: a cluster's scale range, an instance's run state."""
    state = getattr(compute, "state", None) or compute.provisioning_state or "-"
    state = getattr(state, "value", state)  # an instance's state is an enum
    return ComputeTarget(str(compute.name), str(compute.type),
                         str(getattr(compute, "size", None) or "-"),
                         getattr(compute, "min_instances", None),
                         getattr(compute, "max_instances", None), str(state))  # fmt: skip


def azure_targets(view: AzureView) -> list[ComputeTarget]:
    """The workspace's compute, by name."""
    from mlstack.workspace.azure_registry import service_errors  # noqa: PLC0415 - azure-ai-ml

    with service_errors(f"listing the compute of workspace {view.settings.workspace_name}"):
        found = list(view.client.compute.list())
    return sorted((_azure_target(c) for c in found), key=lambda t: t.name)


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


@compute_app.command("list")
def list_command(stack: StackOption = None, output: FormatOption = Format.table) -> None:
    """Compute targets: name, type, size, min/max instances, state."""
    opened = open_stack(stack)
    stack_name, config = opened.name, opened.config
    azure = config.target == "azure"
    targets = azure_targets(open_azure(stack_name, config)) if azure else [local_machine()]
    columns = ("name", "type", "size", "min", "max", "state", *(() if azure else ("accelerators",)))

    def table() -> Table | str:
        if not targets:
            return f"no compute in the workspace of {stack_name}: create a cluster for jobs"
        table = Table(title=f"compute in {stack_name}")
        for column in columns:
            table.add_column(column, overflow="fold", no_wrap=column == "size")
        for t in targets:
            row = [t.name, t.type, t.size, _count(t.min_instances), _count(t.max_instances),
                   t.state, ", ".join(t.accelerators) or "none"]  # fmt: skip
            table.add_row(*row[: len(columns)])
        return table

    emit(output, [asdict(t) for t in targets], table)
