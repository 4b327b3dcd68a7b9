"""Jobs on a real local workspace: a command job and a bandit-stopped sweep run train.py."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.transfer import upload
from mlstack.jobs.policy import Peer, decide
from mlstack.jobs.record import JobStore
from mlstack.jobs.report import plot_sweep
from mlstack.jobs.runner import run_command_job
from mlstack.jobs.spec import load_spec
from mlstack.jobs.sweep import BEST_FILE, run_sweep_job
from mlstack.project import Project
from mlstack.workspace.asset import datastore_uri, upload_prefix
from mlstack.workspace.local import LocalWorkspace
from tests.integration.conftest import Pulumi, add_data
from tests.integration.test_models import _lineage, _set_gate
from tests.unit.training.test_train import ROLES, write_digits

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(azurite_home: Path, endpoint: BlobEndpoint, tmp_path: Path) -> Iterator[str]:
    """A stack with toy-train/val/test registered twice (so @latest means version 2)."""
    name = f"j{uuid.uuid4().hex[:12]}"
    catalog = azurite_home / "stacks" / name / "workspace.db"
    catalog.parent.mkdir(parents=True)
    ws = LocalWorkspace(catalog, f"ws-{name}", lambda: endpoint)
    ws.create(name, "", {})
    for seed_offset in (0, 10):
        for n, role in enumerate(ROLES):
            source = tmp_path / f"src{seed_offset}" / role
            write_digits(source, 4 if role == "train" else 2, n + seed_offset)
            manifest = Manifest.of(
                FileEntry(p.relative_to(source).as_posix(), p.stat().st_size,
                          hashlib.sha256(p.read_bytes()).hexdigest())
                for p in source.rglob("*.png")
            )  # fmt: skip
            prefix = upload_prefix(manifest.digest, f"toy-{role}")
            upload(source, manifest, endpoint, ws.container, prefix, {}, 2, False)
            ws.register_data(f"toy-{role}", type_="uri_folder", uri=datastore_uri(prefix),
                             manifest=manifest)  # fmt: skip
    env = {"type_": "environment", "uri": "azureml:toy-env", "digest": "sha256:" + "e" * 64}
    ws.environments.register("toy-env", **env, properties={"image": "python:3.11"})
    yield name
    ws.delete()


def job_yaml(folder: Path, name: str, text: str) -> Path:
    """A copy of the shipped YAML pointed at the toy assets and the repo's training code."""
    text = text.replace("../../training", str(REPO / "training"))
    text = text.replace("digits-env", "toy-env")
    for role in ROLES:
        text = text.replace(f"azureml:digits-{role}@latest", f"azureml:toy-{role}@latest")
    path = folder / name
    path.write_text(text)
    return path


def test_a_command_job_trains_from_pinned_inputs_and_records_the_job(
    stack: str, azurite_home: Path, tmp_path: Path
) -> None:
    text = (REPO / "assets/jobs/train.yaml").read_text().replace("epochs: 8", "epochs: 1")
    spec = load_spec(job_yaml(tmp_path, "train.yaml", text))
    out = tmp_path / "outputs" / "digits-cnn"
    lines: list[str] = []
    record = run_command_job(azurite_home, stack, spec, outputs={"model": out}, echo=lines.append)
    assert record.status == "Completed", (Path(record.workdir) / "job.log").read_text()
    ws = LocalWorkspace.open(azurite_home, stack)
    for role in ROLES:
        data = ws.get_data(f"toy-{role}")  # the latest: version 2
        assert record.inputs[role]["version"] == data.version == "2"
        assert record.inputs[role]["digest"] == data.digest
    assert record.environment is not None and record.environment["version"] == "1"
    assert set(record.metrics) == {"train_loss", "val_accuracy", "val_loss"}
    assert record.duration is not None and record.duration > 0
    assert any("test accuracy" in line for line in lines)  # the log was streamed
    assert "test accuracy" in (Path(record.workdir) / "job.log").read_text()
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["job"] == record.id
    assert [(d["name"], d["version"], d["digest"]) for d in lineage["data"]] == [
        (f"toy-{r}", "2", record.inputs[r]["digest"]) for r in ROLES
    ]
    assert lineage["environment"]["name"] == "toy-env"
    stored = JobStore.at(azurite_home, stack)
    assert stored.get(record.id) == record and [j.id for j in stored.list()] == [record.id]


def test_a_sweep_stops_laggards_by_bandit_and_picks_the_best(
    stack: str, azurite_home: Path, tmp_path: Path
) -> None:
    text = (REPO / "assets/jobs/sweep.yaml").read_text()
    text = text.replace("epochs: 6", "epochs: 3").replace("max_total_trials: 12",
                                                           "max_total_trials: 8")  # fmt: skip
    # a wide learning-rate range, so some trials learn nothing and fall behind
    text = text.replace("min_value: -9.21", "min_value: -13.8")
    text = text.replace("max_value: -4.6", "max_value: -3.9")
    text = text.replace("delay_evaluation: 2", "delay_evaluation: 1")
    spec = load_spec(job_yaml(tmp_path, "sweep.yaml", text))
    assert spec.sweep is not None and spec.sweep.limits.max_concurrent_trials == 2
    out = tmp_path / "outputs" / "digits-cnn"
    sweep = run_sweep_job(azurite_home, stack, spec, outputs={"model": out}, seed=3)
    trials = JobStore.at(azurite_home, stack).list(parent=sweep.id)
    assert len(trials) == 8
    stopped = [t for t in trials if t.status == "Canceled"]
    assert stopped, [t.extra.get("values") for t in trials]
    policy, goal = spec.sweep.early_termination, spec.sweep.goal
    values = {t.id: list(t.extra["values"]) for t in trials}
    for trial in stopped:  # each stop is justified by the metrics the trials recorded
        decision = trial.extra["decision"]
        n = decision["interval"]
        peers = [Peer(v) for k, v in values.items() if k != trial.id]
        again = decide(policy, goal, values[trial.id][:n], peers)
        assert again.stop and again.threshold is not None
        assert again.threshold >= decision["threshold"]  # later peers only raise the bar
        assert n <= len(values[trial.id])
        assert not (Path(trial.outputs["model"]) / ".mlstack-complete").exists()  # cut short
    completed = [t for t in trials if t.status == "Completed"]
    best = max(completed, key=lambda t: (max(values[t.id]), -t.extra["number"]))
    assert sweep.extra["best_trial"]["id"] == best.id
    assert json.loads((Path(sweep.workdir) / BEST_FILE).read_text())["id"] == best.id
    assert json.loads((out / "lineage.json").read_text())["job"] == best.id
    assert (Path(sweep.workdir) / "best").resolve() == Path(best.workdir).resolve()
    picture = plot_sweep(sweep, trials, tmp_path / "sweep.png")
    with Image.open(picture) as image:
        assert image.format == "PNG"
    shutil.rmtree(Path(sweep.workdir) / "trials", ignore_errors=True)


def test_a_job_trains_and_the_next_up_registers_the_model_with_the_job_id(
    pulumi: Pulumi, project: Project, digits: Path
) -> None:
    add_data(pulumi, project, digits)
    for folder in ("environments", "models", "jobs"):
        shutil.copytree(project.root / "assets" / folder, pulumi.cwd / "assets" / folder)
    shutil.copytree(project.root / "training", pulumi.cwd / "training")
    _set_gate(pulumi, 0.5)
    job_file = pulumi.cwd / "assets" / "jobs" / "train.yaml"
    job_file.write_text(job_file.read_text().replace("epochs: 8", "epochs: 1"))
    pulumi.run("up", "--yes")

    run = subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), "job", "run", str(job_file), "-s",
         pulumi.stack, "-o", "model=outputs/digits-cnn"],
        cwd=pulumi.cwd, env=pulumi.env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    listed = subprocess.run(
        [str(project.root / ".venv/bin/mlstack"), "job", "list", "-s", pulumi.stack,
         "--format", "json"],
        cwd=pulumi.cwd, env=pulumi.env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    [job] = json.loads(listed.stdout)
    assert job["status"] == "Completed"
    job_id = job["id"]

    pulumi.run("up", "--yes")
    lineage = _lineage(pulumi, project, "digits-cnn")
    assert lineage["job"] == job_id
    versions = {d["name"]: d["version"] for d in lineage["data"]}
    assert versions == {n: o["version"] for n, o in pulumi.outputs()["data"].items()}
