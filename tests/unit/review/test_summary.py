"""Preview JSON → StackReview → Markdown, on steps shaped like the engine's."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi.automation import CommandResult
from pulumi.automation.errors import create_command_error

from mlstack.cli import review as cli_review
from mlstack.project import Project
from mlstack.review.markdown import count_line, render_markdown
from mlstack.review.summary import UNKNOWN, MetricDelta, StackReview, metric_deltas, summarise
from mlstack.stack import Stack
from mlstack.stack.backend import Backend

DYN = "pulumi-python:dynamic/mlstack"
PARENT = "mlstack:local:Platform$"


def step(
    op: str, type_: str, name: str, *states: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    """One step as ``pulumi preview --json`` prints it (no outputs on the new side)."""
    old, new, old_outputs = (*states, None, None, None)[:3]
    raw: dict[str, Any] = {"op": op, "urn": f"urn:pulumi:s::mlstack::{PARENT}{type_}::{name}"}
    if old is not None:
        raw["oldState"] = {"type": type_, "inputs": {"__provider": "[secret]", **old},
                           "outputs": {**old, **(old_outputs or {})}}  # fmt: skip
    if new is not None:
        raw["newState"] = {"type": type_, "inputs": {"__provider": "[secret]", **new}}
    return {**raw, **extra}


def data(digest: str, changes: str, **more: Any) -> dict[str, Any]:
    return {"name": "digits-val", "digest": digest, "files": 179, "bytes": 69256,
            "changes": changes, "description": "val split", **more}  # fmt: skip


def model(digest: str, accuracy: float, change: str, stage: str = "") -> dict[str, Any]:
    metrics = {"test": {"accuracy": accuracy, "loss": 0.02}, "epochs": [{"epoch": 1}]}
    return {"name": "digits-cnn", "digest": digest, "metrics_change": change, "stage": stage,
            "properties": {"metrics": metrics, "lineage": {}}}  # fmt: skip


def endpoint(traffic: dict[str, int]) -> dict[str, Any]:
    return {"name": "digits", "traffic": traffic, "deployments": sorted(traffic)}


STACK_SAME = {"op": "same", "urn": "urn:pulumi:s::mlstack::pulumi:pulumi:Stack::mlstack-s"}
ASSET_UPDATE = step("update", f"{DYN}:DataAsset", "data-digits-val",
                    data("sha256:aa", "+179 files"), data("sha256:bb", "1 changed since version 1"),
                    {"version": "1"})  # fmt: skip
MODEL_PROMOTION = step(
    "update", f"{DYN}:ModelVersion", "model-digits-cnn",
    model("sha256:m1", 0.9888, "test.accuracy 0.9888"),
    model("sha256:m2", 1.0, "test.accuracy 0.9888 → 1.0000 (promoted from local)", "production"),
    {"version": "3"},
)  # fmt: skip
TRAFFIC = step("update", f"{DYN}:LocalEndpoint", "endpoint-digits",
               endpoint({"blue": 100}), endpoint({"blue": 90, "green": 10}))  # fmt: skip
ENV_UPDATE = step("update", f"{DYN}:EnvironmentVersion", "env-digits-env",
                  {"name": "digits-env", "digest": "sha256:e1", "image": "img:1"},
                  {"name": "digits-env", "digest": "sha256:e2", "image": "img:2"},
                  {"version": "1"})  # fmt: skip
WORKSPACE_REPLACE = step(
    "replace",
    f"{DYN}:Workspace",
    "platform-workspace",
    {"container": "a"},
    {"container": "b"},
    replaceReasons=["container"],
)
MODEL_DELETE = step("delete", f"{DYN}:ModelVersion", "model-old", model("sha256:o", 0.5, ""))
AZURE_UPDATE = step(
    "update",
    "azure-native:storage:StorageAccount",
    "dev-storage",
    {"sku": {"name": "Standard_LRS"}},
    {"sku": {"name": "Standard_GRS"}},
    diffReasons=["sku"],
    detailedDiff={"sku.name": {"kind": "update"}},
)
AZURE_CREATE = step("create", "azure-native:storage:BlobContainer", "dev-container",
                    None, {"containerName": UNKNOWN})  # fmt: skip


def preview(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"steps": [STACK_SAME, *steps], **extra}


def sections(markdown: str) -> list[str]:
    return [line[5:] for line in markdown.splitlines() if line.startswith("#### ")]


def test_each_step_lands_in_its_section_and_flagged_steps_first() -> None:
    review = summarise("prod", preview(ASSET_UPDATE, MODEL_PROMOTION, TRAFFIC, ENV_UPDATE,
                                       WORKSPACE_REPLACE, MODEL_DELETE, AZURE_UPDATE,
                                       AZURE_CREATE))  # fmt: skip
    assert review.counts == (("create", 1), ("update", 5), ("replace", 1), ("delete", 1))
    assert [(f.op, f.kind, f.name, f.changed) for f in review.attention] == [
        ("replace", "mlstack:Workspace", "platform-workspace", ("container",)),
        ("delete", "model", "digits-cnn", ()),
    ]
    (asset,) = review.assets
    assert (asset.name, asset.new_version, asset.from_version) == ("digits-val", True, "1")
    assert asset.summary == "1 changed since version 1"
    (promoted,) = review.models
    assert promoted.stage == ("", "production") and promoted.from_version == "3"
    assert promoted.metrics == (MetricDelta("test.accuracy", 0.9888, 1.0),)
    (traffic,) = review.endpoints
    assert traffic.old == (("blue", 100),) and traffic.new == (("blue", 90), ("green", 10))
    assert review.environments[0].image == ("img:1", "img:2")
    assert [(i.kind, i.op, i.changed) for i in review.infrastructure] == [
        ("azure-native:storage:BlobContainer", "create", ()),
        ("azure-native:storage:StorageAccount", "update", ("sku",)),
    ]

    markdown = render_markdown([review])
    assert sections(markdown) == ["⚠ Needs attention", "Data assets", "Models", "Environments",
                                  "Endpoint traffic", "Infrastructure"]  # fmt: skip
    assert "**8 changes**: 1 to create · 5 to update · 1 to replace · 1 to delete" in markdown
    assert "test.accuracy 0.9888 → 1.0000 (+0.0112)" in markdown
    assert (
        "| `digits` | update | blue 100% | blue 90% · green 10% | `deployments`, `traffic` |"
        in (markdown)
    )
    assert "| `digits-val` | v1 → next | 179 files, 69.3 kB | 1 changed since version 1 |" in (
        markdown
    )
    assert UNKNOWN not in markdown


def test_a_promoted_model_is_a_model() -> None:
    promoted = {
        **MODEL_PROMOTION,
        "urn": MODEL_PROMOTION["urn"].replace("ModelVersion", "PromotedModel"),
    }
    promoted["oldState"] = {**promoted["oldState"], "type": f"{DYN}:PromotedModel"}
    promoted["newState"] = {**promoted["newState"], "type": f"{DYN}:PromotedModel"}
    review = summarise(
        "local-prod", preview(promoted, {**promoted, "op": "delete", "urn": "x::y::z::w"})
    )
    assert [m.summary for m in review.models] == [
        MODEL_PROMOTION["newState"]["inputs"]["metrics_change"]
    ]
    assert [(f.kind, f.name) for f in review.attention] == [("model", "digits-cnn")]


def test_metadata_only_update_is_in_place() -> None:
    old = data("sha256:aa", "+179 files")
    new = {**old, "description": "better words"}
    review = summarise("s", preview(step("update", f"{DYN}:DataAsset", "data-digits-val",
                                         old, new, {"version": "2"})))  # fmt: skip
    (asset,) = review.assets
    assert not asset.new_version and asset.changed == ("description",)
    assert "| v2 (in place) |" in render_markdown([review])


def test_a_replace_reported_as_several_steps_counts_once() -> None:
    steps = [{**WORKSPACE_REPLACE, "op": op} for op in ("create-replacement", "replace",
                                                        "delete-replaced")]  # fmt: skip
    review = summarise("s", preview(*steps))
    assert review.counts == (("replace", 1),) and len(review.attention) == 1


def test_no_changes_renders_only_the_heading() -> None:
    read = {"op": "read", "urn": "urn:pulumi:s::mlstack::azure-native:x:Y::n"}
    review = summarise("local", preview(read))
    assert review.total == 0
    assert render_markdown([review]).splitlines()[-3:] == ["### Stack `local`", "", "No changes."]


def test_errors_are_the_problems_and_come_first() -> None:
    diagnostics = [
        {"severity": "error", "message": "error: 1 problem in the configuration:\n  - x: y\n"},
        {"severity": "warning", "message": "warning: digits-cnn is not trained yet"},
        {"severity": "info", "message": "chatter"},
    ]
    review = summarise("dev", preview(diagnostics=diagnostics))
    assert review.failed and review.problems == ("1 problem in the configuration:\n  - x: y",)
    assert review.warnings == ("digits-cnn is not trained yet",)
    markdown = render_markdown([review])
    assert sections(markdown) == ["❌ Preview failed"] and "  - x: y" in markdown
    assert "chatter" not in markdown


def test_table_cells_cannot_break_the_table() -> None:
    new = data("sha256:bb", "odd | summary\nacross lines")
    review = summarise("s", preview(step("create", f"{DYN}:DataAsset", "d", None, new)))
    assert "| `digits-val` | new | 179 files, 69.3 kB | odd \\| summary across lines |" in (
        render_markdown([review])
    )


def test_metric_deltas_name_new_and_changed_metrics_only() -> None:
    old, new = {"accuracy": 0.9, "loss": 0.1}, {"accuracy": 0.9, "loss": 0.2, "f1": 1}
    assert metric_deltas(old, new) == (MetricDelta("test.f1", None, 1),
                                       MetricDelta("test.loss", 0.1, 0.2))  # fmt: skip


def test_count_line_for_one_change() -> None:
    review = summarise("s", preview(ASSET_UPDATE))
    assert count_line(review) == "**1 change**: 1 to update"
    assert isinstance(review, StackReview)


# ---------------------------------------------------------------- CLI


class FakeCli:
    """The Automation API's CLI runner, answering ``pulumi preview --json`` as told."""

    def __init__(self, stdout: str, code: int, stderr: str = "") -> None:
        self.stdout, self.code, self.stderr = stdout, code, stderr

    def run(
        self, args: list[str], cwd: str, env: Any, on_output: Any = None, on_error: Any = None
    ) -> CommandResult:
        assert args[0] == "preview" and "--json" in args and "--skip-plugin-pre-install" in args
        for line in self.stdout.splitlines():
            on_output(line)
        for line in self.stderr.splitlines():
            on_error(line)
        result = CommandResult(self.stdout, self.stderr, self.code)
        if self.code:
            raise create_command_error(result)
        return result


def fake_cli(monkeypatch: pytest.MonkeyPatch, stdout: str, code: int, stderr: str = "") -> None:
    workspace = SimpleNamespace(pulumi_command=FakeCli(stdout, code, stderr), work_dir=".")
    monkeypatch.setattr(Backend, "workspace", lambda self: workspace)


def stack_in(tmp_path: Path, stack_file: str = "config:\n  mlstack:target: local\n") -> Stack:
    (tmp_path / "stacks").mkdir(parents=True)
    (tmp_path / "policy" / ".venv").mkdir(parents=True)  # the pack's environment (make setup)
    (tmp_path / "stacks" / "Pulumi.s.yaml").write_text(stack_file)
    return Stack(Project(tmp_path), "s")


def test_a_preview_without_json_becomes_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cli(monkeypatch, "", 255, "error: no stack named 's'")
    result = cli_review.run_preview(stack_in(tmp_path))
    assert summarise("s", result).problems == ("no stack named 's' (pulumi exited 255)",)


def test_a_non_zero_exit_without_error_diagnostics_is_still_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cli(monkeypatch, json.dumps(preview(), indent=4), 1, "killed")
    review = summarise("s", cli_review.run_preview(stack_in(tmp_path)))
    assert review.failed and review.problems == ("killed",)


def test_a_failed_preview_keeps_its_own_diagnostics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = {"severity": "error", "message": "error: 1 problem in the configuration"}
    fake_cli(monkeypatch, json.dumps(preview(diagnostics=[said]), indent=4), 255, "exit")
    review = summarise("s", cli_review.run_preview(stack_in(tmp_path)))
    assert review.problems == ("1 problem in the configuration",)


def test_a_stack_file_that_is_not_yaml_is_the_stacks_problem(tmp_path: Path) -> None:
    """Reported in the comment like a failed preview, not a crash of the whole review."""
    result = cli_review.run_preview(stack_in(tmp_path, "config: [unclosed\n"))
    [problem] = summarise("s", result).problems
    assert "stacks/Pulumi.s.yaml" in problem and "fix the YAML" in problem


def test_promoted_data_is_a_data_version_not_infrastructure() -> None:
    """Every mlstack resource is filed where its inputs model says (promoted data drifted
    into "infrastructure" when the review kept a list of its own)."""
    promoted = data("sha256:cc", "promoted from local:2") | {"source_version": "2"}
    before = data("sha256:aa", "promoted from local:1") | {"source_version": "1"}
    steps = [STACK_SAME, step("update", f"{DYN}:PromotedData", "data-digits-val", before,
                              promoted, {"version": "1"})]  # fmt: skip
    review = summarise("prod", {"steps": steps})
    assert review.infrastructure == ()
    [asset] = review.assets
    assert (asset.name, asset.new_version, asset.summary) == (
        "digits-val", True, "promoted from local:2",
    )  # fmt: skip


def test_the_preview_runs_the_policy_pack_and_puts_its_violations_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = stack_in(tmp_path)
    failed = preview()
    failed["diagnostics"] = [{"severity": "error", "message": "error: preview failed\n"}]
    seen: dict[str, Any] = {}

    class PolicyCli(FakeCli):
        def run(
            self, args: list[str], cwd: str, env: Any, on_output: Any = None, on_error: Any = None
        ) -> CommandResult:
            seen.update(args=args, env=env)
            pack = args.index("--policy-pack")
            assert args[pack + 1] == str(tmp_path / "policy")
            log = Path(args[args.index("--event-log") + 1])
            event = {"policyName": "required-tags", "enforcementLevel": "mandatory",
                     "message": "Tags are required.\nWorkspace 'platform-workspace' lacks the "
                                "tag cost-center. Fix: add it."}  # fmt: skip
            log.write_text(json.dumps({"sequence": 1, "policyEvent": event}) + "\n")
            return super().run(args, cwd, env, on_output, on_error)

    workspace = SimpleNamespace(pulumi_command=PolicyCli(json.dumps(failed), 255), work_dir=".")
    monkeypatch.setattr(Backend, "workspace", lambda self: workspace)
    review = summarise("s", cli_review.run_preview(stack))
    assert seen["env"]["PULUMI_DEBUG_COMMANDS"] == "true"  # what --event-log needs
    assert review.problems == (
        "policy required-tags (mandatory): Tags are required. — Workspace 'platform-workspace' "
        "lacks the tag cost-center. Fix: add it.",
        "preview failed",
    )


def test_without_the_packs_environment_review_says_to_run_setup(tmp_path: Path) -> None:
    stack = stack_in(tmp_path)
    (tmp_path / "policy" / ".venv").rmdir()
    [problem] = summarise("s", cli_review.run_preview(stack)).problems
    assert "run `make setup`" in problem


def test_a_rollback_is_the_earlier_version_again_not_a_new_one() -> None:
    summary = "rollback to version 1 (now serving 2; from local:1)"
    rollback = step(
        "update", f"{DYN}:PromotedModel", "model-digits-cnn",
        model("sha256:m2", 0.99, "test.accuracy 0.9800 → 0.9900 (promoted from local:2)"),
        model("sha256:m1", 0.98, summary), {"version": "2"},
    )  # fmt: skip
    (change,) = summarise("local-prod", preview(rollback)).models
    assert (change.rollback_to, change.new_version, change.summary) == ("1", False, summary)
    markdown = render_markdown([summarise("local-prod", preview(rollback))])
    assert f"| `digits-cnn` | v2 → v1 (rollback) | none | {summary} |" in markdown
    # A promotion of new content registers the next version: no rollback.
    (forward,) = summarise("s", preview(MODEL_PROMOTION)).models
    assert forward.rollback_to == "" and forward.new_version


def _lineage_inputs(**more: Any) -> dict[str, Any]:
    lineage = {"data": [{"name": "digits-train", "version": "2", "role": "train",
                         "digest": "sha256:" + "d" * 64}],
               "job": "job-1", "environment": {"name": "digits-env", "version": "1"},
               "code": {"revision": "f" * 40}}  # fmt: skip
    return {**model("sha256:" + "c" * 64, 0.97, "test.accuracy 0.9700"),
            "properties": {"metrics": {"test": {"accuracy": 0.97}}, "lineage": lineage},
            "gates": {"mlstack.min.test.accuracy": 0.95}, **more}  # fmt: skip


def _deployments(model_name: str) -> dict[str, Any]:
    inputs = endpoint({"blue": 90, "green": 10})
    deployment = {"model": model_name, "model_digest": "sha256:c", "code": "c",
                  "code_digest": "sha256:c", "scoring_script": "score.py"}  # fmt: skip
    return {**inputs, "deployments": {"blue": deployment, "green": deployment}}


def _mermaid_blocks(markdown: str) -> list[str]:
    return [b.split("```", 1)[0] for b in markdown.split("```mermaid\n")[1:]]


def test_a_new_model_version_gets_its_lineage_graph_from_the_preview_inputs() -> None:
    old = model("sha256:" + "b" * 64, 0.9, "")
    new_model = step("update", f"{DYN}:ModelVersion", "model-digits-cnn", old,
                     _lineage_inputs(), {"version": "4"})  # fmt: skip
    unchanged_endpoint = step("same", f"{DYN}:LocalEndpoint", "endpoint-digits",
                              _deployments("digits-cnn"), _deployments("digits-cnn"))  # fmt: skip
    review = summarise("local", preview(new_model, unchanged_endpoint))
    (change,) = review.models
    graph = change.graph()
    assert graph is not None
    assert graph.model == "model:local:digits-cnn:next"
    assert {n.id for n in graph.nodes} == {
        "data:digits-train:2", "run:job-1", "model:local:digits-cnn:next",
        "environment:digits-env:1", "deployment:digits/blue", "deployment:digits/green",
    }  # fmt: skip
    assert graph.node(graph.model).status == "pass"
    markdown = render_markdown([review])
    [block] = _mermaid_blocks(markdown)
    assert block.startswith("flowchart LR\n") and "sha256:dddddddddddd" in block
    assert '-->|"90%"|' in block and '-->|"10%"|' in block
    assert "**Lineage of `digits-cnn`** (version next in `local`)" in markdown
    assert "mlstack model card" not in markdown  # not promoted


def test_a_promoted_version_links_its_model_card_and_shows_its_pin() -> None:
    inputs = _lineage_inputs(source_stack="local", source_version="3",
                             digest="sha256:" + "c" * 64)  # fmt: skip
    promoted = step("create", f"{DYN}:PromotedModel", "model-digits-cnn", None, inputs)
    review = summarise("local-prod", preview(promoted))
    (change,) = review.models
    graph = change.graph()
    assert graph is not None
    [pin] = graph.of_kind("promotion")
    assert pin.title == "promoted from local:3"
    markdown = render_markdown([review])
    assert len(_mermaid_blocks(markdown)) == 1
    assert "Model card: `mlstack model card digits-cnn:3 -s local`" in markdown


def test_the_review_reads_the_promoted_source_when_it_can(tmp_path: Path) -> None:
    inputs = _lineage_inputs(source_stack="nowhere", source_version="3",
                             digest="sha256:" + "c" * 64)  # fmt: skip
    promoted = step("create", f"{DYN}:PromotedModel", "model-digits-cnn", None, inputs)
    (change,) = summarise("local-prod", preview(promoted)).models
    (tmp_path / "Pulumi.yaml").write_text("name: mlstack\nruntime: python\n")
    unreachable = cli_review.with_source(Project(tmp_path), change)
    assert unreachable.source is None  # never brought up: the pin stands in
