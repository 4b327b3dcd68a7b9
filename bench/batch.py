"""Batch scoring benchmark: the batch runner against the same script in a plain loop.

Both score the same synthetic 28x28 PNGs with ``training/batch_score.py`` and the same
exported (untrained, fixed-seed) digits CNN, in mini-batches of the same size::

    .venv/bin/python bench/batch.py                      # 100,000 images, 2 workers
    .venv/bin/python bench/batch.py --images 2000        # a quick look

- **ours**: ``mlstack.batch.runner.run_batch`` — ``--workers`` spawned processes, each
  running ``init()`` once (one torch thread each, as the script sets), then
  ``run(mini_batch)``; worker start-up (interpreter, torch import, model load) counts.
- **anchor**: a fresh ``python`` process imports the script, calls ``init()`` once and
  ``run()`` over the same mini-batches one after another — what a plain loop in one
  process does, started as a user starts it; its start-up counts as the workers' does.
  The same loop inside the bench process (where exporting the model already imported
  torch and ``torch.export``) is reported beside it, for reference.

Throughput ratio = anchor seconds ÷ ours (images/s ours ÷ anchor). Target >= 1.6x with
2 workers on 2 cores. Prints a table and writes ``bench/results/batch.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``mlstack`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

from bench._common import REPO, RESULTS, Row, report, say, scratch, timed
from mlstack.batch.runner import Schedule, mini_batches, run_batch

SCRIPT = REPO / "training" / "batch_score.py"


def _load(path: Path, name: str) -> Any:
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_inputs(home: Path, count: int) -> tuple[Path, list[str]]:
    """A model folder and ``count`` deterministic PNGs in ten label folders."""
    import torch  # noqa: PLC0415 - only the benchmark's setup needs it here

    trainer = _load(REPO / "training" / "train.py", "bench_train")
    torch.manual_seed(0)
    model = home / "model"
    model.mkdir()
    trainer.export_model(trainer.DigitsCNN(), model / "model.pt2")
    rng = np.random.default_rng(0)
    files = []
    for i in range(count):
        target = home / "in" / str(i % 10) / f"{i:06d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(target)
        files.append(str(target))
    return model, sorted(files)


def plain_loop(model: Path, files: list[str], size: int) -> int:
    os.environ["AZUREML_MODEL_DIR"] = str(model)
    script = _load(SCRIPT, "bench_batch_score")
    script.init()
    return sum(len(script.run(list(batch))) for batch in mini_batches(files, size))


_COLD_LOOP = """
import importlib.util, json, os, sys
script_path, listing, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, os.path.dirname(script_path))
spec = importlib.util.spec_from_file_location("plain_loop_script", script_path)
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)
script.init()
files = json.load(open(listing))
print(sum(len(script.run(files[i:i + size])) for i in range(0, len(files), size)))
"""


def cold_plain_loop(home: Path, model: Path, files: list[str], size: int) -> int:
    """The plain loop as a user runs it: a fresh ``python`` process that imports the
    script, calls ``init()`` and ``run()`` over every mini-batch; its start-up counts, as
    the workers' does."""
    listing = home / "files.json"
    listing.write_text(json.dumps(files))
    done = subprocess.run(
        [sys.executable, "-c", _COLD_LOOP, str(SCRIPT), str(listing), str(size)],
        env={**os.environ, "AZUREML_MODEL_DIR": str(model)}, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--mini-batch-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=RESULTS / "batch.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with scratch("batch") as home:
        say(f"writing {args.images} images and exporting the model ...")
        model, files = make_inputs(home, args.images)
        schedule = Schedule(mini_batch_size=args.mini_batch_size, concurrency=args.workers,
                            timeout=600)  # fmt: skip
        say(f"worker start-up alone: {args.workers} workers, one file each ...")
        startup, _ = timed(lambda: run_batch(
            SCRIPT, files[: args.workers], Schedule(mini_batch_size=1, concurrency=args.workers),
            {"AZUREML_MODEL_DIR": str(model)},
        ))  # fmt: skip
        say(f"batch runner, {args.workers} workers ...")
        ours, result = timed(
            lambda: run_batch(SCRIPT, files, schedule, {"AZUREML_MODEL_DIR": str(model)})
        )
        assert len(result.rows) == len(files) and not result.failures
        say("plain loop in a fresh process ...")
        anchor, scored = timed(lambda: cold_plain_loop(home, model, files, args.mini_batch_size))
        assert scored == len(files)
        say("plain loop in this process (torch and the model's code already imported) ...")
        warm, scored = timed(lambda: plain_loop(model, files, args.mini_batch_size))
        assert scored == len(files)
    ratio = anchor / ours
    rows = [
        Row("batch scoring throughput", len(files) / ours, "images/s", "plain loop, 1 process",
            len(files) / anchor, ratio, ">= 1.6x", ratio >= 1.6,
            note=f"{args.workers} workers; both sides start cold (interpreter, imports, "
                 "init) and that start counts"),
        Row("  against a warm plain loop", len(files) / ours, "images/s",
            "loop in the bench process", len(files) / warm, warm / ours,
            note="informative: the anchor's imports and model code were paid before timing"),
        Row("worker start-up (spawn, imports, init)", startup, "s",
            note="informative: paid once per invoke, whatever the input size"),
        Row("throughput after start-up", len(files) / max(ours - startup, 1e-9), "images/s",
            "loop in the bench process", len(files) / warm, warm / max(ours - startup, 1e-9),
            note="informative: ours minus the start-up measured alone, against the warm loop"),
    ]  # fmt: skip
    params = {"images": args.images, "mini_batch_size": args.mini_batch_size,
              "workers": args.workers}  # fmt: skip
    report("batch", rows, params, time.perf_counter() - started, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
