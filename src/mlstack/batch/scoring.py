"""The worker side of a batch job: one process that imports the scoring script by path,
calls ``init()`` once, then ``run(mini_batch)`` for each mini-batch it is handed.

This is Azure ML's ParallelRunStep contract: ``AZUREML_MODEL_DIR`` names the model
folder before ``init()``; ``mini_batch`` is a list of file paths; ``run`` returns a list
(or a pandas DataFrame) whose elements become the output rows. The worker reports over
a queue and never raises: the runner decides what a failure means.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from collections.abc import Mapping
from multiprocessing.queues import Queue
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["load_script", "rows_of", "serve"]

Message = tuple[str, int, Any]
"""(``ready`` | ``init-failed`` | ``done`` | ``failed``, worker id, payload)."""


def load_script(script: Path) -> ModuleType:
    """Import ``script`` by path, under a private name, with its folder importable (as Azure
    ML runs it from the code folder, so it may import its neighbours)."""
    folder = str(script.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("mlstack_batch_scoring_script", script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def rows_of(returned: object) -> list[str]:
    """The output rows of one ``run`` result: a DataFrame's CSV lines, else one row per
    element (``str`` of it)."""
    if returned is None:
        return []
    to_csv = getattr(returned, "to_csv", None)
    if callable(to_csv):
        return str(to_csv(header=False, index=False)).splitlines()
    if isinstance(returned, str | bytes) or not hasattr(returned, "__iter__"):
        raise TypeError(
            f"run(mini_batch) returned {type(returned).__name__}: return a list "
            "(one element per row) or a pandas DataFrame"
        )
    return [str(row) for row in returned]


def _reason(error: BaseException) -> str:
    """The error and the script's own frame, one line: enough to find the bug."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


def serve(
    worker: int,
    script: str,
    env: Mapping[str, str],
    tasks: Queue[tuple[int, list[str]] | None],
    results: Queue[Message],
) -> None:
    """A worker process's body: init once, then score mini-batches until told to stop."""
    os.environ.update(env)
    try:
        module = load_script(Path(script))
        module.init()
    except BaseException as error:  # reported: the runner stops the job
        results.put(("init-failed", worker, _reason(error)))
        return
    results.put(("ready", worker, None))
    while (task := tasks.get()) is not None:
        index, files = task
        try:
            results.put(("done", worker, (index, rows_of(module.run(list(files))))))
        except Exception as error:  # a failed mini-batch is data for the runner
            results.put(("failed", worker, (index, _reason(error))))
