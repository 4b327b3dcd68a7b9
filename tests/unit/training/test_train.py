"""training/train.py: deterministic training into a complete, atomically published folder."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.transfer import upload
from mlstack.errors import MlstackError
from mlstack.workspace.asset import datastore_uri, upload_prefix
from mlstack.workspace.inputs import ResolvedInput
from mlstack.workspace.local import LocalWorkspace

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "training" / "train.py"
ROLES = ("train", "val", "test")
ARTEFACT = [".mlstack-complete", "lineage.json", "metrics.json", "model.pt2", "training_curve.png"]


def load_script(path: Path, name: str) -> ModuleType:
    """``training/`` is not a package, so load the script by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trainer() -> ModuleType:
    return load_script(SCRIPT, "train_under_test")


def write_digits(folder: Path, per_class: int, seed: int) -> None:
    """A learnable toy: class k is a bright bar at row 4+2k, plus noise."""
    rng = np.random.default_rng(seed)
    for label in range(10):
        (folder / str(label)).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 40, (28, 28), dtype=np.uint8)
            image[4 + 2 * label, 4:24] = 255
            Image.fromarray(image, mode="L").save(folder / str(label) / f"{i}.png")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ResolvedInput]:
    root = tmp_path_factory.mktemp("digits")
    resolved = {}
    for n, role in enumerate(ROLES):
        write_digits(root / role, 6 if role == "train" else 2, n)
        digest = "sha256:" + hashlib.sha256(role.encode()).hexdigest()
        count = sum(1 for _ in (root / role).rglob("*.png"))
        resolved[role] = ResolvedInput(f"toy-{role}", str(n + 3), digest, root / role, count)
    return resolved


ENV = {"name": "torch-cpu", "version": "4", "digest": "sha256:e", "image": "img"}


@pytest.fixture(scope="module")
def runs(
    trainer: ModuleType, inputs: dict[str, ResolvedInput], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Three one-epoch runs: two with one seed, one with another."""
    out = tmp_path_factory.mktemp("outputs")
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        params = trainer.Params(epochs=1, seed=seed, lr=0.002, batch_size=16)
        trainer.train(inputs, out / name, params, model_name="toy", stack="teststack",
                      environment=ENV)  # fmt: skip
    return {name: out / name for name in "abc"}


def weights(folder: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.export.load(folder / "model.pt2").module().state_dict()
    return state


def test_the_folder_holds_exactly_the_artefact_with_a_checksum_marker(
    runs: dict[str, Path],
) -> None:
    folder = runs["a"]
    assert sorted(p.name for p in folder.iterdir()) == ARTEFACT
    marker = json.loads((folder / ".mlstack-complete").read_text())
    assert marker["files"] == {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in ARTEFACT[1:]
    }
    assert sorted(p.name for p in folder.parent.iterdir()) == ["a", "b", "c"]  # no temp left
    with Image.open(folder / "training_curve.png") as curve:
        assert curve.format == "PNG" and curve.size[0] > 600


def test_the_same_seed_gives_identical_metrics_and_weights(runs: dict[str, Path]) -> None:
    a, b, c = (runs[name] for name in "abc")
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)  # the seed matters


def test_metrics_have_stable_sorted_keys(runs: dict[str, Path]) -> None:
    text = (runs["a"] / "metrics.json").read_text()
    metrics = json.loads(text)
    assert list(metrics) == ["epochs", "test", "train", "val"]
    assert all(list(metrics[split]) == ["accuracy", "loss"] for split in ROLES)
    assert metrics["epochs"] == [
        {"epoch": 1, "train_loss": pytest.approx(metrics["epochs"][0]["train_loss"]),
         "val_accuracy": metrics["val"]["accuracy"], "val_loss": metrics["val"]["loss"]}
    ]  # fmt: skip
    assert all(0 <= metrics[split]["accuracy"] <= 1 for split in ROLES)


def test_lineage_names_the_exact_inputs_and_run(
    runs: dict[str, Path], inputs: dict[str, ResolvedInput]
) -> None:
    lineage = json.loads((runs["a"] / "lineage.json").read_text())
    assert lineage["data"] == [
        {
            "digest": inputs[r].digest,
            "name": inputs[r].name,
            "role": r,
            "version": inputs[r].version,
        }
        for r in ROLES
    ]
    assert lineage["environment"] == ENV
    assert lineage["parameters"] == {"batch_size": 16, "epochs": 1, "lr": 0.002, "seed": 7}
    assert (lineage["model"], lineage["stack"], lineage["device"]) == ("toy", "teststack", "cpu")
    assert lineage["torch"] == torch.__version__
    assert lineage["started_at"] <= lineage["ended_at"]
    code = lineage["code"]
    assert code["script"] == "training/train.py" and isinstance(code["dirty"], bool)
    assert code["revision"] is None or len(code["revision"]) == 40


def test_a_failed_run_leaves_the_old_artefact_untouched(
    trainer: ModuleType, inputs: dict[str, ResolvedInput], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    out = tmp_path / "model"
    out.mkdir()
    (out / "old.txt").write_text("previous artefact")

    def broken_plot(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(trainer, "plot_curve", broken_plot)
    with pytest.raises(OSError, match="disk full"):
        trainer.train(inputs, out, trainer.Params(epochs=1, batch_size=32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert [p.name for p in out.iterdir()] == ["old.txt"]


def test_publish_replaces_the_old_folder_whole(trainer: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "stale.txt").write_text("from the previous run")
    trainer.publish(out, lambda folder: (folder / "new.txt").write_text("new"))
    assert sorted(p.name for p in out.iterdir()) == [".mlstack-complete", "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_leftovers_of_a_crashed_run_are_cleared(trainer: ModuleType, tmp_path: Path) -> None:
    for name in (".model.tmp-999999999", ".model.tmp-old-999999999"):  # beyond pid_max
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pt2").write_bytes(b"half")
    alive = tmp_path / f".model.tmp-{os.getppid()}"  # a live process may still be writing
    alive.mkdir()
    trainer.publish(tmp_path / "model", lambda folder: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "model"]


def test_inputs_that_are_not_digit_folders_are_refused(trainer: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    with pytest.raises(MlstackError, match="class folders must be named 0-9"):
        trainer.load_split(tmp_path)
    (tmp_path / "cat").rmdir()
    (tmp_path / "3").mkdir()
    Image.new("L", (32, 32)).save(tmp_path / "3" / "big.png")
    with pytest.raises(MlstackError, match="expected a 28x28 image"):
        trainer.load_split(tmp_path)


def test_is_current_only_for_the_same_inputs_parameters_and_environment(
    trainer: ModuleType, inputs: dict[str, ResolvedInput], runs: dict[str, Path]
) -> None:
    params = trainer.Params(epochs=1, seed=7, lr=0.002, batch_size=16)
    assert trainer.is_current(runs["a"], inputs, params, ENV)
    assert not trainer.is_current(runs["a"], inputs, trainer.Params(epochs=2), ENV)
    assert not trainer.is_current(runs["a"], inputs, params, {**ENV, "digest": "sha256:other"})
    other = dict(inputs)
    other["test"] = dataclasses.replace(inputs["test"], version="9")
    assert not trainer.is_current(runs["a"], other, params, ENV)
    assert not trainer.is_current(runs["a"].parent / "missing", inputs, params, ENV)


@pytest.fixture
def toy_stack(
    azurite_home: Path, endpoint: BlobEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalWorkspace]:
    """A stack of its own in the test Azurite home with toy-train/val/test:1 registered."""
    stack = f"t{uuid.uuid4().hex[:12]}"
    catalog = azurite_home / "stacks" / stack / "workspace.db"
    catalog.parent.mkdir(parents=True)
    ws = LocalWorkspace(catalog, f"ws-{stack}", lambda: endpoint)
    ws.create(stack, "", {})
    for n, role in enumerate(ROLES):
        source = tmp_path / "src" / role
        write_digits(source, 3 if role == "train" else 1, n)
        manifest = Manifest.of(
            FileEntry(p.relative_to(source).as_posix(), p.stat().st_size,
                      hashlib.sha256(p.read_bytes()).hexdigest())
            for p in source.rglob("*.png")
        )  # fmt: skip
        prefix = upload_prefix(manifest.digest, f"toy-{role}")
        upload(source, manifest, endpoint, ws.container, prefix, {}, 2, False)
        ws.register_data(f"toy-{role}", type_="uri_folder", uri=datastore_uri(prefix),
                         manifest=manifest)  # fmt: skip
    monkeypatch.setenv("MLSTACK_HOME", str(azurite_home))
    yield ws
    ws.delete()


def test_the_command_line_trains_from_registered_data_assets(
    trainer: ModuleType, toy_stack: LocalWorkspace, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "out" / "toy-cnn"
    stack = toy_stack.get().name
    args = ["--stack", stack, "--model", "toy-cnn", "--epochs", "1", "--out", str(out)]
    args += [arg for r in ROLES for arg in (f"--{r}", f"toy-{r}@latest")]
    assert trainer.main(args) == 0
    lineage = json.loads((out / "lineage.json").read_text())
    assert [(d["name"], d["version"]) for d in lineage["data"]] == [
        ("toy-train", "1"),
        ("toy-val", "1"),
        ("toy-test", "1"),
    ]
    assert lineage["data"][0]["digest"] == toy_stack.get_data("toy-train").digest
    assert lineage["stack"] == stack
    assert "test accuracy" in capsys.readouterr().out
    assert trainer.main([*args[:-2], "--test", "toy-test:9"]) == 2
    assert "versions of 'toy-test': 1" in capsys.readouterr().err
    # Same inputs and parameters again: --skip-if-current leaves the artefact alone.
    marker = (out / ".mlstack-complete").stat().st_mtime_ns
    assert trainer.main([*args, "--skip-if-current"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (out / ".mlstack-complete").stat().st_mtime_ns == marker


# An Azure ML job: digits-env has torch, torchvision, pillow, matplotlib and rich, not mlstack.
WITHOUT_MLSTACK = """
import importlib.abc, runpy, sys

class NoMlstack(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "mlstack":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoMlstack())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_job_with_mounted_inputs_runs_without_mlstack(
    inputs: dict[str, ResolvedInput], tmp_path: Path
) -> None:
    job = {"id": "job-7", "inputs": {r: {"name": f"toy-{r}", "version": "3", "digest": "sha256:d"}
                                     for r in ROLES}}  # fmt: skip
    folders = [arg for role in ROLES for arg in (f"--{role}", str(inputs[role].path))]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MLSTACK, str(SCRIPT), *folders, "--model", "digits-cnn",
         "--epochs", "1", "--threads", "1", "--out", str(tmp_path / "model")],
        env={**os.environ, "MLSTACK_JOB": json.dumps(job), "MLFLOW_RUN_ID": ""},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ARTEFACT
    lineage = json.loads((tmp_path / "model" / "lineage.json").read_text())
    assert lineage["job"] == "job-7"
    assert {d["name"] for d in lineage["data"]} == {f"toy-{r}" for r in ROLES}


def test_without_mlstack_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for role in ROLES:
        (tmp_path / role / "cat").mkdir(parents=True)
    folders = [arg for role in ROLES for arg in (f"--{role}", str(tmp_path / role))]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MLSTACK, str(SCRIPT), *folders, "--model", "m",
         "--out", str(tmp_path / "model")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "class folders must be named 0-9" in done.stderr
    assert "Traceback" not in done.stderr


def _imports(script: Path) -> set[str]:
    """The top-level modules a script imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "script", ["training/train.py", "steps/prep/prep.py", "steps/evaluate/evaluate.py"]
)
def test_digits_env_installs_what_each_step_imports(script: str) -> None:
    """Every step of the digits pipeline runs in digits-env on Azure ML: each package its
    script imports is pinned there or required by a pinned one (numpy, by torchvision).
    Two are optional: mlstack, which train.py imports only outside a job (tested above),
    and MLflow, which it reports metrics to only if the job's image has it."""
    conda = yaml.safe_load((REPO / "assets/environments/digits-env.conda.yaml").read_text())
    pinned = {re.split(r"[=<>!~ ]", p)[0].lower() for p in conda["dependencies"][2]["pip"]}
    provided = set(pinned)
    for name in pinned:
        for requirement in metadata.requires(name) or []:
            if "extra ==" not in requirement:
                provided.add(re.split(r"[=<>!~ ;\[(]", requirement)[0].lower())
    owners = metadata.packages_distributions()
    local = {p.stem for p in (REPO / script).parent.glob("*.py")}  # the code folder's own
    third_party = (
        _imports(REPO / script) - set(sys.stdlib_module_names) - local - {"mlstack", "mlflow"}
    )
    for module in sorted(third_party):
        distributions = {d.lower() for d in owners.get(module, [module])}
        assert distributions & provided, f"{script} imports {module}, which digits-env lacks"
