"""``mlstack compute list``: where jobs run. On the local target, this machine."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import typer
from rich.table import Table

from mlstack.cli.inspect.common import emit, human_bytes, open_workspace
from mlstack.cli.lineage import Format, FormatOption, StackOption

compute_app = typer.Typer(help="Compute targets of the stack's workspace.", no_args_is_help=True)


@dataclass(frozen=True)
class ComputeTarget:
    """One compute target, in the columns `az ml compute list` shows."""

    name: str
    type: str
    size: str
    min_instances: int
    max_instances: int
    state: str
    cores: int
    memory_bytes: int
    accelerators: tuple[str, ...]


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


@compute_app.command("list")
def list_command(stack: StackOption = None, output: FormatOption = Format.table) -> None:
    """Compute targets: name, type, size, min/max instances, state."""
    stack_name, _ = open_workspace(stack)
    targets = [local_machine()]

    def table() -> Table:
        table = Table(title=f"compute in {stack_name}")
        for column in ("name", "type", "size", "min", "max", "state", "accelerators"):
            table.add_column(column, overflow="fold", no_wrap=column == "size")
        for t in targets:
            table.add_row(t.name, t.type, t.size, str(t.min_instances), str(t.max_instances),
                          t.state, ", ".join(t.accelerators) or "none")  # fmt: skip
        return table

    emit(output, [asdict(t) for t in targets], table)
