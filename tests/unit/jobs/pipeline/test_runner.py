"""The local pipeline runner: real processes, real records, file components."""

from __future__ import annotations

import _thread
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlstack.config.components import component_digest, load_component_file
from mlstack.config.locator import LocalLocator
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.scan import scan
from mlstack.errors import ConfigError
from mlstack.jobs.pipeline.plan import command_line
from mlstack.jobs.pipeline.runner import run_pipeline
from mlstack.jobs.pipeline.spec import load_pipeline
from mlstack.jobs.record import JobRecord, JobStore
from mlstack.workspace import open_workspace, register_folder
from mlstack.workspace.local import LocalWorkspace
from tests.unit.jobs.pipeline.conftest import Project

STACK = "t"
DIAMOND = """\
type: pipeline
display_name: diamond
inputs:
  raw: {type: uri_folder, path: ./data}
  events: EVENTS
outputs:
  final: {type: uri_folder}
jobs:
  a:
    component: ./components/a.yaml
    inputs: {raw: "${{parent.inputs.raw}}", events: "${{parent.inputs.events}}"}
  b:
    component: ./components/b.yaml
    inputs: {x: "${{parent.jobs.a.outputs.out}}", events: "${{parent.inputs.events}}",
             wait: c}
  c:
    component: ./components/c.yaml
    inputs: {x: "${{parent.jobs.a.outputs.out}}", events: "${{parent.inputs.events}}",
             wait: b}
  d:
    component: ./components/d.yaml
    inputs: {x: "${{parent.jobs.b.outputs.out}}", y: "${{parent.jobs.c.outputs.out}}",
             events: "${{parent.inputs.events}}"}
    outputs:
      out: "${{parent.outputs.final}}"
"""


def diamond(p: Project) -> Path:
    p.component("a", {"raw": "uri_folder"})
    p.component("b", {"x": "uri_folder"}, optional="wait")
    p.component("c", {"x": "uri_folder"}, optional="wait")
    p.component("d", {"x": "uri_folder", "y": "uri_folder"})
    return p.pipeline(DIAMOND)


def run(p: Project, file: Path, lines: list[str] | None = None, **kw: object) -> JobRecord:
    spec = load_pipeline(file)
    echo = lines.append if lines is not None else None
    return run_pipeline(p.home, STACK, spec, echo=echo, root=p.root, **kw)  # type: ignore[arg-type]


def steps(p: Project, record: JobRecord) -> dict[str, JobRecord]:
    return {str(s.extra["step"]): s for s in JobStore.at(p.home, STACK).list(parent=record.id)}


def reused(p: Project, record: JobRecord) -> dict[str, bool]:
    return {n: s.extra["reused_from"] is not None for n, s in steps(p, record).items()}


def test_steps_run_in_dependency_order_and_independent_ones_together(tiny: Project) -> None:
    lines: list[str] = []
    record = run(tiny, diamond(tiny), lines)
    assert record.status == "Completed", record.reason
    events = tiny.events_seen()
    assert events[:2] == ["start a", "end a"]
    assert events[-2:] == ["start d", "end d"]
    # b waits for c's start and c for b's: both end only because they ran at the same time
    middle = events[2:-2]
    assert sorted(middle) == ["end b", "end c", "start b", "start c"]
    assert middle[:2] in (["start b", "start c"], ["start c", "start b"])
    final = Path(record.outputs["final"]) / "result.txt"
    assert final.read_text() == "d|b|a|raw-1|c|a|raw-1"
    assert "[a] hello from a" in lines
    assert any(line.startswith("step d: Completed in ") for line in lines)
    by_step = steps(tiny, record)
    assert {n: s.status for n, s in by_step.items()} == dict.fromkeys("abcd", "Completed")
    assert record.extra["steps"]["d"]["upstream"] == ["b", "c"]
    assert record.extra["steps"]["d"]["job"] == by_step["d"].id
    assert record.extra["steps"]["a"]["component"] == "a (file)"
    log = Path(by_step["a"].workdir) / "job.log"
    assert log.read_text() == "hello from a\n"
    assert Path(by_step["a"].workdir) == tiny.home / "stacks" / STACK / "jobs" / record.id / "a"


def test_one_at_a_time_still_finishes_steps_that_do_not_wait(tiny: Project) -> None:
    diamond(tiny)
    text = DIAMOND.replace("             wait: c}", "             }").replace(
        "             wait: b}", "             }"
    )
    record = run(tiny, tiny.pipeline(text, "serial.yaml"), max_parallel=1)
    assert record.status == "Completed"
    events = tiny.events_seen()
    # never two steps at once: every start is followed by its own end
    assert all(events[i].split()[1] == events[i + 1].split()[1] for i in range(0, 8, 2))


def test_a_second_run_reuses_every_step(tiny: Project) -> None:
    file = diamond(tiny)
    first = run(tiny, file)
    lines: list[str] = []
    second = run(tiny, file, lines)
    assert second.status == "Completed"
    assert reused(tiny, second) == dict.fromkeys("abcd", True)
    assert tiny.events_seen().count("start a") == 1
    earlier = steps(tiny, first)
    now = steps(tiny, second)
    assert now["b"].extra["reused_from"] == earlier["b"].id
    assert now["b"].reason == f"reused from {earlier['b'].id}: component and inputs unchanged"
    assert now["d"].outputs == earlier["d"].outputs
    assert second.outputs["final"] == first.outputs["final"]
    assert (
        f"step a: reused from {earlier['a'].id} (a (file); component and inputs unchanged)" in lines
    )
    assert second.extra["steps"]["c"]["reused_from"] == earlier["c"].id


def test_changed_code_reruns_that_step_and_only_downstream_steps_whose_inputs_changed(
    tiny: Project,
) -> None:
    file = diamond(tiny)
    run(tiny, file)
    tiny.salt("b", "")  # a comment: b runs again but writes the same bytes
    second = run(tiny, file)
    assert reused(tiny, second) == {"a": True, "b": False, "c": True, "d": True}
    tiny.salt("b", "+salted")  # b's output changes, so d's input does
    third = run(tiny, file)
    assert reused(tiny, third) == {"a": True, "b": False, "c": True, "d": False}
    assert (Path(third.outputs["final"]) / "result.txt").read_text().startswith("d|b+salted|")


def test_force_rerun_runs_every_step(tiny: Project) -> None:
    file = diamond(tiny)
    run(tiny, file)
    forced = tiny.pipeline(DIAMOND.replace("display_name: diamond",
                                           "display_name: diamond\nsettings: {force_rerun: true}"),
                           "forced.yaml")  # fmt: skip
    record = run(tiny, forced)
    assert reused(tiny, record) == dict.fromkeys("abcd", False)


def test_a_non_deterministic_component_is_never_reused(tiny: Project) -> None:
    tiny.component("a", {"raw": "uri_folder"}, deterministic=False)
    file = tiny.pipeline(SINGLE)
    run(tiny, file)
    assert reused(tiny, run(tiny, file)) == {"a": False}


SINGLE = """\
type: pipeline
inputs:
  events: EVENTS
outputs:
  final: {type: uri_folder, name: never_registered_here}
jobs:
  a:
    component: ./components/a.yaml
    inputs: {raw: {type: uri_folder, path: ./data}, events: "${{parent.inputs.events}}"}
    outputs: {out: "${{parent.outputs.final}}"}
""".replace(", name: never_registered_here", "")


def test_a_changed_or_deleted_earlier_output_is_not_reused(tiny: Project) -> None:
    tiny.component("a", {"raw": "uri_folder"})
    file = tiny.pipeline(SINGLE)
    first = run(tiny, file)
    out = Path(first.outputs["final"])
    (out / "result.txt").write_text("tampered")
    second = run(tiny, file)
    assert reused(tiny, second) == {"a": False}
    assert (Path(second.outputs["final"]) / "result.txt").read_text() == "a|raw-1"
    assert reused(tiny, run(tiny, file)) == {"a": True}
    for f in Path(second.outputs["final"]).iterdir():
        f.unlink()
    Path(second.outputs["final"]).rmdir()
    assert reused(tiny, run(tiny, file)) == {"a": False}


def test_changed_input_data_reruns(tiny: Project) -> None:
    tiny.component("a", {"raw": "uri_folder"})
    file = tiny.pipeline(SINGLE)
    run(tiny, file)
    (tiny.root / "data" / "raw.txt").write_text("raw-2")
    record = run(tiny, file)
    assert reused(tiny, record) == {"a": False}
    assert (Path(record.outputs["final"]) / "result.txt").read_text() == "a|raw-2"


def test_a_failed_step_stops_its_downstream_and_the_pipeline_fails(tiny: Project) -> None:
    diamond(tiny)
    tiny.component("c", {"x": "uri_folder"}, optional="wait", extra=" --fail")
    lines: list[str] = []
    record = run(tiny, tiny.root / "pipe.yaml", lines)
    assert record.status == "Failed"
    got = steps(tiny, record)
    assert got["c"].status == "Failed" and got["c"].exit_code == 3
    assert got["d"].status == "NotStarted"
    assert "c" in got["d"].reason
    assert got["b"].status in {"Canceled", "Completed"}  # stopped, or done before c failed
    assert "start d" not in tiny.events_seen()
    assert record.extra["steps"]["d"]["status"] == "NotStarted"


def test_with_continue_on_step_failure_other_branches_go_on(tiny: Project) -> None:
    diamond(tiny)
    tiny.component("c", {"x": "uri_folder"}, extra=" --fail")
    text = (DIAMOND.replace("display_name: diamond",
                            "display_name: diamond\nsettings: {continue_on_step_failure: true}")
            .replace("             wait: c}", "             }")
            .replace("             wait: b}", "             }"))  # fmt: skip
    record = run(tiny, tiny.pipeline(text, "go-on.yaml"))
    assert record.status == "Failed"
    got = steps(tiny, record)
    assert (got["b"].status, got["c"].status, got["d"].status) == (
        "Completed",
        "Failed",
        "NotStarted",
    )
    assert got["d"].reason == "upstream step c failed"


def test_output_copied_into_place_replacing_an_old_folder(
    tiny: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny.component("a", {"raw": "uri_folder"})
    target = tmp_path / "outputs" / "final"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("old")
    seen: list[tuple[str, list[str]]] = []
    copy = shutil.copytree

    def watched(source: Path, dest: Path, **kw: Any) -> Any:
        # while the copy is written, the old folder is whole and the copy hidden beside it
        seen.append((Path(dest).name, sorted(p.name for p in target.iterdir())))
        return copy(source, dest, **kw)

    monkeypatch.setattr(shutil, "copytree", watched)
    record = run(tiny, tiny.pipeline(SINGLE), outputs={"final": target})
    assert seen == [(f".final.tmp-{os.getpid()}", ["stale.txt"])]
    assert record.status == "Completed"
    assert sorted(p.name for p in target.iterdir()) == ["result.txt"]
    assert (target / "result.txt").read_text() == "a|raw-1"
    assert record.outputs["final"] == str(target)
    assert [p.name for p in target.parent.iterdir()] == ["final"]  # no temp sibling left


def test_an_unknown_output_or_bad_component_is_refused_before_anything_runs(
    tiny: Project,
    tmp_path: Path,
) -> None:
    tiny.component("a", {"raw": "uri_folder"})
    with pytest.raises(ConfigError, match=r"--output nope"):
        run(tiny, tiny.pipeline(SINGLE), outputs={"nope": tmp_path / "x"})
    assert not (tiny.home / "stacks" / STACK / "jobs.db").exists()
    assert tiny.events_seen() == []


def test_a_registered_output_needs_a_workspace(tiny: Project) -> None:
    tiny.component("a", {"raw": "uri_folder"})
    text = SINGLE.replace("final: {type: uri_folder}", "final: {type: uri_folder, name: res}")
    with pytest.raises(ConfigError, match=r"outputs\.final\.name"):
        run(tiny, tiny.pipeline(text))


def test_mlstack_job_names_the_step_the_pipeline_and_the_steps_done(tiny: Project) -> None:
    record = run(tiny, diamond(tiny))
    by_step = steps(tiny, record)
    job = json.loads((tiny.events.parent / "d.job.json").read_text())
    assert job["id"] == by_step["d"].id
    assert job["inputs"] == {}  # its inputs are step outputs, not registered data
    assert job["environment"] is None  # no workspace: the project's Python
    assert job["pipeline"] == {
        "display_name": "diamond",
        "id": record.id,
        "inputs": {},
        "steps": {n: s.id for n, s in by_step.items()},
    }
    first = json.loads((tiny.events.parent / "a.job.json").read_text())
    assert first["pipeline"]["steps"] == {"a": by_step["a"].id}


def test_optional_segments_are_dropped_when_unbound() -> None:
    values = {("inputs", "x"): "'a b'", ("outputs", "o"): "/o"}
    command = "run ${{inputs.x}} $[[--y ${{inputs.y}}]] $[[--x ${{inputs.x}}]] ${{outputs.o}}"
    assert command_line(command, values) == "run 'a b' --x 'a b' /o"


# -- a registered component, data and output through a real local workspace ---------------

REGISTERED = """\
type: pipeline
display_name: registered
inputs:
  raw: {type: uri_folder, path: "azureml:raw_digits:1"}
  events: EVENTS
outputs:
  final: {type: uri_folder, name: prep_result}
jobs:
  a:
    component: azureml:prep_a@latest
    inputs: {raw: "${{parent.inputs.raw}}", events: "${{parent.inputs.events}}"}
    outputs: {out: "${{parent.outputs.final}}"}
"""


@pytest.fixture
def workspace_stack(azurite_home: Path, endpoint: BlobEndpoint) -> Iterator[tuple[Path, str]]:
    """A stack of its own with a workspace in the session's Azurite home."""
    name = f"p{uuid.uuid4().hex[:12]}"
    catalog = azurite_home / "stacks" / name / "workspace.db"
    catalog.parent.mkdir(parents=True)
    ws = LocalWorkspace(catalog, f"ws-{name}", lambda: endpoint)
    ws.create(name, "pipeline runner test", {})
    yield azurite_home, name
    ws.delete()


def test_registered_component_data_and_output_with_lineage(
    tiny: Project, workspace_stack: tuple[Path, str]
) -> None:
    home, stack = workspace_stack
    ws = open_workspace(LocalLocator(stack=stack), home=home)
    ws.environments.register("py", type_="environment", uri="docker:python", digest="sha256:e1",
                             properties={"image": "python:3.12"})  # fmt: skip
    with SqliteHashCache.in_home(home) as cache:
        data = tiny.root / "data"
        register_folder(ws, "data", "raw_digits", data, scan(data, cache), type_="uri_folder")
        loaded = load_component_file(tiny.component("a", {"raw": "uri_folder"}), tiny.root)
        code = scan(loaded.code, cache)
        register_folder(ws, "component", "prep_a", loaded.code, code, type_="command",
                        properties={"spec": loaded.spec, "code_digest": code.digest},
                        digest=component_digest(loaded.spec, code.digest))  # fmt: skip
    (tiny.root / "components" / "a" / "step.py").unlink()  # only the registered copy runs
    spec = load_pipeline(tiny.pipeline(REGISTERED))
    record = run_pipeline(home, stack, spec, root=tiny.root)
    assert record.status == "Completed", record.reason
    step = JobStore.at(home, stack).list(parent=record.id)[0]
    assert record.outputs == {"final": "prep_result:1"}
    assert record.inputs["raw"]["name"] == "raw_digits"
    assert record.extra["steps"]["a"]["component"] == "prep_a:1"
    digest = ws.registry("component").get("prep_a", "1").digest
    assert Path(step.workdir).parent.parent.name == "jobs"
    assert (home / "cache" / "components" / digest.removeprefix("sha256:") / "step.py").is_file()
    version = ws.data.get("prep_result", "1")
    assert dict(version.properties) == {
        "mlstack.pipeline": record.id,
        "mlstack.step": "a",
        "mlstack.job": step.id,
        "mlstack.component": "prep_a:1",
    }
    job = json.loads((tiny.events.parent / "a.job.json").read_text())
    raw = ws.data.get("raw_digits", "1")
    assert job["inputs"] == {"raw": {"digest": raw.digest, "name": "raw_digits", "version": "1"}}
    assert job["pipeline"]["inputs"] == job["inputs"]
    assert job["environment"]["name"] == "py" and job["environment"]["version"] == "1"
    again = run_pipeline(home, stack, spec, root=tiny.root)
    assert again.outputs == {"final": "prep_result:1"}  # same content: the same version
    assert JobStore.at(home, stack).list(parent=again.id)[0].extra["reused_from"] == step.id
    assert [v.version for v in ws.data.list("prep_result")] == ["1"]


def test_ctrl_c_stops_running_steps_and_records_the_pipeline_canceled(tiny: Project) -> None:
    diamond(tiny)
    text = DIAMOND.replace("wait: b}", "wait: never}")  # c waits for a step that never starts

    def echo(line: str) -> None:
        if line == "[c] hello from c":
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread

    spec = load_pipeline(tiny.pipeline(text, "stuck.yaml"))
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(tiny.home, STACK, spec, echo=echo, root=tiny.root)
    (record,) = JobStore.at(tiny.home, STACK).list()
    assert record.status == "Canceled"
    got = steps(tiny, record)
    assert got["c"].status == "Canceled" and got["c"].reason == "interrupted by the user"
    assert got["d"].status == "NotStarted"
    assert record.extra["steps"]["c"]["status"] == "Canceled"
    assert "end c" not in tiny.events_seen() and "gave-up c" not in tiny.events_seen()


def test_an_optional_input_used_outside_a_segment_must_be_bound(tiny: Project) -> None:
    file = tiny.component("a", {"raw": "uri_folder"}, optional="wait")
    file.write_text(file.read_text().replace("$[[--wait-for ${{inputs.wait}}]]",
                                             "--wait-for ${{inputs.wait}}"))  # fmt: skip
    with pytest.raises(ConfigError, match="optional and unbound"):
        run(tiny, tiny.pipeline(SINGLE))
