"""Train a small CNN on the digits data assets and write a model artefact with its lineage.

    python training/train.py --stack local --train digits-train@latest \\
        --val digits-val@latest --test digits-test@latest --model digits-cnn \\
        [--epochs 8] [--seed 42] [--lr 0.002] [--batch-size 32] [--threads N] \\
        [--environment NAME:VERSION] [--out outputs/digits-cnn]

Inputs are data asset references resolved through the stack's workspace and verified by
digest (:func:`mlstack.workspace.inputs.materialise`), so the lineage names exactly the
bytes trained on. Each split is ``<label>/<any>.png``, 28x28 grayscale. In a job (every
split a mounted folder, ``--out`` given: how Azure ML runs the ``train_digits`` component)
the script needs no mlstack; ``digits-env`` holds what it imports.

The artefact folder ``outputs/<model>/`` holds ``model.pt2`` (a ``torch.export`` program:
scoring needs no class definition; TorchScript is deprecated in this torch), ``metrics.json``,
``training_curve.png``, ``lineage.json`` and, written last, ``.mlstack-complete``. It is
built beside the target and renamed into place, so the final path never holds half an
artefact. The same seed gives the same metrics and weights on the same machine with the
same thread count (recorded in the lineage: it changes the order of float sums).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional name
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

try:  # a developer's machine; an Azure ML job runs in digits-env, which has no mlstack
    from mlstack.errors import MlstackError
    from mlstack.jobs.metrics import log_metrics
except ImportError:

    class MlstackError(Exception):  # type: ignore[no-redef]
        """Bad input: one line on stderr and exit code 2, as with mlstack installed."""

    def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
        """To the job's MLflow run when Azure ML gives one and MLflow is installed; else
        the values are in metrics.json only."""
        if not os.environ.get("MLFLOW_RUN_ID"):
            return
        with suppress(ImportError):
            import mlflow  # noqa: PLC0415 - optional

            mlflow.log_metrics(dict(metrics), step=step)


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "training/train.py"
ROLES = ("train", "val", "test")
SIZE, CLASSES = 28, 10
MODEL_FILE, METRICS_FILE = "model.pt2", "metrics.json"
CURVE_FILE, LINEAGE_FILE, MARKER_FILE = "training_curve.png", "lineage.json", ".mlstack-complete"
EVAL_BATCH = 512


@dataclass(frozen=True)
class Split:
    """A data split in a local folder and the version it is (mlstack's ``ResolvedInput``
    has these fields; in an Azure ML job the folder is the mounted input)."""

    name: str
    version: str
    digest: str
    path: Path
    files: int


@dataclass(frozen=True)
class Params:
    """Hyperparameters; recorded verbatim in the lineage."""

    epochs: int = 8
    seed: int = 42
    lr: float = 0.002
    batch_size: int = 32


class DigitsCNN(nn.Module):
    """Two conv blocks and two dense layers; takes raw 0-255 pixels, shape (N, 1, 28, 28).

    Scaling lives inside the model so scoring cannot drift from training.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, CLASSES)
        self.dropout = nn.Dropout(0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 255.0
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)  # type: ignore[no-any-return]


def load_split(folder: Path) -> TensorDataset:
    """All images of a ``<label>/<file>.png`` tree as (float pixels 0-255, label) tensors.

    A split prepared by the pipeline's prep step (``steps/prep``) holds ``split.npz``
    instead: the same pixels and labels in the same order, read in one go.
    """
    prepared = folder / "split.npz"
    if prepared.is_file():
        try:
            # opened here: np.load leaks its own handle when the zip is damaged
            with prepared.open("rb") as handle, np.load(handle, allow_pickle=False) as arrays:
                pixels, targets = arrays["images"], arrays["labels"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise MlstackError(f"{prepared} is unreadable ({error}): run prep again") from error
        if pixels.ndim != 3 or pixels.shape[1:] != (SIZE, SIZE) or len(pixels) != len(targets):
            raise MlstackError(f"{prepared}: not a prepared split; run the prep step again")
        if not len(pixels):
            raise MlstackError(f"{prepared} holds no images; run the prep step on a full split")
        return TensorDataset(torch.from_numpy(pixels).unsqueeze(1).float(),
                             torch.from_numpy(targets).to(torch.int64))  # fmt: skip
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for label_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not label_dir.name.isdigit() or int(label_dir.name) >= CLASSES:
            raise MlstackError(f"{label_dir}: class folders must be named 0-{CLASSES - 1}")
        for png in sorted(label_dir.glob("*.png")):
            with Image.open(png) as image:
                if image.size != (SIZE, SIZE):
                    raise MlstackError(f"{png}: expected a {SIZE}x{SIZE} image, got {image.size}")
                images.append(torch.from_numpy(np.array(image.convert("L"))))
            labels.append(int(label_dir.name))
    if not images:
        raise MlstackError(f"{folder} holds no <label>/*.png images")
    return TensorDataset(torch.stack(images).unsqueeze(1).float(), torch.tensor(labels))


def evaluate(model: nn.Module, data: TensorDataset, device: torch.device) -> dict[str, float]:
    """Mean cross-entropy and accuracy over the whole split."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for x, y in DataLoader(data, batch_size=EVAL_BATCH):
            logits = model(x.to(device))
            loss += F.cross_entropy(logits, y.to(device), reduction="sum").item()
            correct += int((logits.argmax(1).cpu() == y).sum())
    return {"accuracy": correct / len(data), "loss": loss / len(data)}


def _seed_everything(seed: int) -> torch.Generator:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def fit(
    splits: Mapping[str, TensorDataset], params: Params, device: torch.device, *, progress: bool
) -> tuple[DigitsCNN, list[dict[str, float]]]:
    """Train with Adam; per epoch: mean train loss and validation loss/accuracy."""
    generator = _seed_everything(params.seed)
    model = DigitsCNN().to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=params.lr)
    loader = DataLoader(
        splits["train"], batch_size=params.batch_size, shuffle=True,
        generator=generator, num_workers=0,
    )  # fmt: skip
    history: list[dict[str, float]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[status]}"))  # fmt: skip
    with Progress(*columns, disable=not progress) as bar:
        for epoch in range(1, params.epochs + 1):
            task = bar.add_task(f"epoch {epoch}/{params.epochs}", total=len(loader), status="")
            model.train()
            total, seen = 0.0, 0
            for x, y in loader:
                optimiser.zero_grad()
                loss = F.cross_entropy(model(x.to(device)), y.to(device))
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
                total += loss.item() * len(y)
                seen += len(y)
                bar.update(task, advance=1, status=f"loss {total / seen:.4f}")
            val = evaluate(model, splits["val"], device)
            history.append({"epoch": epoch, "train_loss": total / seen,
                            "val_accuracy": val["accuracy"], "val_loss": val["loss"]})  # fmt: skip
            log_metrics({k: v for k, v in history[-1].items() if k != "epoch"}, step=epoch)
            bar.update(task, status=f"loss {total / seen:.4f}  val acc {val['accuracy']:.4f}")
    return model, history


def plot_curve(history: Sequence[Mapping[str, float]], path: Path) -> None:
    """Loss (train and validation) and validation accuracy per epoch, as a PNG."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - Agg canvas; no pyplot state

    epochs = [h["epoch"] for h in history]
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    loss_ax, acc_ax = figure.subplots(1, 2)
    loss_ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    loss_ax.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation")
    loss_ax.set(title="Loss (cross-entropy)", xlabel="epoch", ylabel="loss")
    loss_ax.legend()
    acc_ax.plot(epochs, [h["val_accuracy"] for h in history], marker="o", color="tab:green")
    acc_ax.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.01))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.set_xticks(epochs)
    figure.savefig(path, dpi=110, metadata={"Software": None})


def export_model(model: DigitsCNN, path: Path) -> None:
    """Save as a ``torch.export`` program with a dynamic batch size."""
    model = model.cpu().eval()
    batch = torch.export.Dim("batch", min=1, max=65536)
    program = torch.export.export(
        model, (torch.zeros(2, 1, SIZE, SIZE),), dynamic_shapes=({0: batch},)
    )
    torch.export.save(program, path)


def code_revision(root: Path = ROOT) -> dict[str, Any]:
    """The git commit of ``root`` and whether the work tree differs from it."""
    git = shutil.which("git")
    if git is None:
        return {"dirty": False, "revision": None, "script": SCRIPT}

    def run(*args: str) -> str | None:
        command = [git, "-C", str(root), *args]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    revision = run("rev-parse", "HEAD")
    status = run("status", "--porcelain") if revision else None
    return {"dirty": bool(status), "revision": revision, "script": SCRIPT}


def _clear_stale(out: Path) -> None:
    """Remove the temporary siblings (``.<name>.tmp-[old-]<pid>``) of crashed runs."""
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        pid = stale.name.rpartition("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            continue


def publish(out: Path, write: Callable[[Path], None]) -> None:
    """Build the folder at ``.<name>.tmp-<pid>`` beside ``out``, marker last, then swap it in.

    The old folder is moved aside before the new one is renamed into place, so ``out`` is
    at any moment absent, the old artefact or the complete new one.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(out)
    temp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    # also named tmp-*: readers (mlstack.content.artefact) treat it as a run still writing
    old = out.parent / f".{out.name}.tmp-old-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        write(temp)
        sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(temp.iterdir())}
        (temp / MARKER_FILE).write_text(json.dumps({"files": sums}, indent=2, sort_keys=True))
        if out.exists():
            out.rename(old)
        try:
            temp.rename(out)
        except OSError:
            if old.exists():
                old.rename(out)
            raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _identity(item: Split) -> dict[str, str]:
    return {"digest": item.digest, "name": item.name, "version": item.version}


def _dump(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def train(
    inputs: Mapping[str, Split],
    out: Path,
    params: Params = Params(),  # frozen, so one shared default is safe
    *,
    model_name: str | None = None,
    stack: str = "",
    environment: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Train on ``inputs`` (roles train/val/test), publish ``out``; return the metrics.

    ``environment`` is the registered environment version the run stands for (name,
    version, digest, image), recorded in the lineage.
    """
    started = _now()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    splits = {role: load_split(inputs[role].path) for role in ROLES}
    model, history = fit(splits, params, device, progress=progress)
    metrics: dict[str, Any] = {role: evaluate(model, splits[role], device) for role in ROLES}
    metrics["epochs"] = history
    lineage = {
        "code": code_revision(),
        "data": [{**_identity(inputs[role]), "role": role} for role in ROLES],
        "device": device.type,
        "ended_at": _now(),
        "job": job_context().get("id"),
        "environment": dict(environment) if environment else {"name": None, "version": None},
        "model": model_name or out.name,
        "parameters": asdict(params),
        "stack": stack,
        "started_at": started,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }

    def write(folder: Path) -> None:
        export_model(model, folder / MODEL_FILE)
        _dump(folder / METRICS_FILE, metrics)
        plot_curve(history, folder / CURVE_FILE)
        _dump(folder / LINEAGE_FILE, lineage)

    publish(out, write)
    return metrics


def resolve_environment(home: Path, stack: str, ref: str | None) -> dict[str, Any] | None:
    """The exact registered environment version ``ref`` names, as lineage records it."""
    if not ref:
        return None
    from mlstack.config.locator import LocalLocator  # noqa: PLC0415 - see project()
    from mlstack.workspace import open_workspace  # noqa: PLC0415
    from mlstack.workspace.asset import AssetRef  # noqa: PLC0415

    parsed = AssetRef.parse(ref)
    ws = open_workspace(LocalLocator(stack=stack), home=home)
    env = ws.environments.get(parsed.name, parsed.version)
    return {"digest": env.digest, "image": env.properties.get("image"), "name": env.name,
            "version": env.version}  # fmt: skip


def is_current(
    out: Path, inputs: Mapping[str, Split], params: Params,
    environment: Mapping[str, Any] | None,
) -> bool:  # fmt: skip
    """Whether ``out`` is a complete artefact of exactly these inputs, params and environment."""
    try:
        if not (out / MARKER_FILE).is_file():
            return False
        lineage = json.loads((out / LINEAGE_FILE).read_text())
    except (OSError, ValueError):
        return False
    data = sorted(lineage.get("data", []), key=lambda d: d.get("role", ""))
    wanted = sorted(
        ({**_identity(i), "role": r} for r, i in inputs.items()), key=lambda d: d["role"]
    )
    recorded_env = lineage.get("environment") or {}
    return (
        data == wanted
        and lineage.get("parameters") == asdict(params)
        and recorded_env.get("digest") == (environment or {}).get("digest")
    )


def job_context() -> dict[str, Any]:
    """The job this run is part of (``MLSTACK_JOB``, set by ``mlstack job run`` and by the
    Azure ML submission): its id and the exact versions behind each input folder."""
    context = json.loads(os.environ.get("MLSTACK_JOB") or "{}")
    if not context.get("id") and os.environ.get("AZUREML_RUN_ID"):
        context["id"] = os.environ["AZUREML_RUN_ID"]
    return dict(context)


def folder_input(role: str, folder: Path) -> Split:
    """A split given as a folder (a job's mounted input), named by the job's record of it."""
    known = job_context().get("inputs", {}).get(role, {})
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    return Split(known.get("name", str(folder)), str(known.get("version", "")),
                         known.get("digest", ""), folder, files)  # fmt: skip


def project() -> Any:
    """This checkout's mlstack project: only for runs outside a job, where mlstack is."""
    from mlstack.project import Project  # noqa: PLC0415 - not in an Azure ML job's env

    return Project.find(ROOT)


def workspace_input(home: Path, stack: str, ref: str) -> Split:
    """The data version ``ref`` names, fetched from the stack's workspace and verified."""
    from mlstack.workspace.inputs import materialise  # noqa: PLC0415 - see project()

    found = materialise(home, stack, ref)
    return Split(found.name, found.version, found.digest, found.path, found.files)


def default_threads() -> int:
    """All usable cores but one. The model is small, so extra threads gain little, while
    on a busy 2-core machine (Azurite, tests) two spinning OpenMP threads ran 5x slower."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


def configure_threads(threads: int) -> None:
    """Set intra-op threads; inter-op parallelism only adds contention for this model."""
    torch.set_num_threads(threads)
    with suppress(RuntimeError):  # fixed for good once parallel work has run in this process
        torch.set_num_interop_threads(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="stack whose workspace holds the data")
    for role in ROLES:
        parser.add_argument(f"--{role}", required=True, help=f"{role} data: NAME[:N|@latest] "
                            "or a folder (a job's input)")  # fmt: skip
    parser.add_argument("--model", required=True, help="model name; output folder name")
    parser.add_argument("--epochs", type=int, default=Params.epochs)
    parser.add_argument("--seed", type=int, default=Params.seed)
    parser.add_argument("--lr", type=float, default=Params.lr)
    parser.add_argument("--batch-size", type=int, default=Params.batch_size)
    parser.add_argument("--threads", type=int, default=default_threads(), help="CPU threads")
    parser.add_argument("--environment", help="environment asset: NAME[:N|@latest]")
    parser.add_argument("--out", type=Path, help="artefact folder (default outputs/<model>)")
    parser.add_argument(
        "--skip-if-current", action="store_true",
        help="do nothing if the artefact was trained on exactly these inputs and parameters",
    )  # fmt: skip
    args = parser.parse_args(argv)
    console = Console(soft_wrap=True)
    clock = time.monotonic()
    try:
        configure_threads(args.threads)
        refs = {role: getattr(args, role) for role in ROLES}
        folders = {role: Path(ref) for role, ref in refs.items() if Path(ref).is_dir()}
        if len(folders) < len(ROLES) and not args.stack:
            raise MlstackError("--stack is required when an input is an asset reference")
        # a job with every input mounted and --out given needs no project (as on Azure ML)
        mounted = len(folders) == len(ROLES) and args.out and not args.environment
        home = Path() if mounted else project().home
        inputs = {
            role: folder_input(role, folders[role]) if role in folders
            else workspace_input(home, args.stack, ref)
            for role, ref in refs.items()
        }  # fmt: skip
        for item in inputs.values():
            console.print(f"{item.name}:{item.version}  {item.files} files  {item.digest[:19]}…")
        out = args.out or project().root / "outputs" / args.model
        params = Params(args.epochs, args.seed, args.lr, args.batch_size)
        environment = (
            resolve_environment(home, args.stack, args.environment)
            if args.environment else job_context().get("environment")
        )  # fmt: skip
        if args.skip_if_current and is_current(out, inputs, params, environment):
            console.print(f"{out} is up to date with these inputs and parameters; not training")
            return 0
        metrics = train(
            inputs, out, params, model_name=args.model, stack=args.stack,
            environment=environment, progress=True,
        )  # fmt: skip
    except MlstackError as error:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {error}")
        return 2
    test = metrics["test"]
    console.print(
        f"test accuracy {test['accuracy']:.4f}, loss {test['loss']:.4f}; "
        f"wrote {out} in {time.monotonic() - clock:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
