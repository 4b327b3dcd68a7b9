"""The lineage graph: nodes and edges from the records given, Mermaid and PNG pictures."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from PIL import Image

from mlstack.audit.graph import (
    LineageGraph,
    Node,
    Serving,
    build_graph,
    render_mermaid,
    render_png,
)
from tests.unit.audit.records import DIGESTS, GATE, PROMOTION, lineage, version

SERVING = (Serving("digits", "blue", 90), Serving("digits", "green", 10))
NODE_LINE = re.compile(r'^    (?P<id>[A-Za-z_][A-Za-z0-9_]*)\["(?P<label>[^"]*)"\]$')
EDGE_LINE = re.compile(
    r'^    (?P<source>[A-Za-z_][A-Za-z0-9_]*) -->(?:\|"(?P<label>[^"]*)"\|)? '
    r"(?P<target>[A-Za-z_][A-Za-z0-9_]*)$"
)


def edges(graph: LineageGraph) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in graph.edges}


def test_nodes_and_edges_follow_the_recorded_lineage() -> None:
    graph = build_graph(version(), stack="local", gates=[GATE], serving=SERVING)
    model = "model:local:digits-cnn:3"
    assert graph.model == model
    assert [n.id for n in graph.nodes] == [
        "data:digits-train:1", "data:digits-val:1", "data:digits-test:1", "run:job-7", model,
        "environment:digits-env:2", "deployment:digits/blue", "deployment:digits/green",
    ]  # fmt: skip
    assert edges(graph) == {
        ("data:digits-train:1", "run:job-7", "train"),
        ("data:digits-val:1", "run:job-7", "val"),
        ("data:digits-test:1", "run:job-7", "test"),
        ("run:job-7", model, "trained"),
        (model, "environment:digits-env:2", "runs in"),
        ("environment:digits-env:2", "deployment:digits/blue", "90%"),
        ("environment:digits-env:2", "deployment:digits/green", "10%"),
    }
    for role, digest in DIGESTS.items():  # short digests, from the records
        assert digest[:19] in graph.node(f"data:digits-{role}:1").details
    node = graph.node(model)
    assert node.status == "pass"
    assert "gate test.accuracy 0.9700 ≥ 0.95: pass" in node.details
    assert "sha256:aaaaaaaaaaaa" in node.details
    assert "traffic 90%" in graph.node("deployment:digits/blue").details


def test_a_failing_gate_marks_the_model() -> None:
    graph = build_graph(version(0.9), stack="local", gates=[GATE])
    node = graph.node(graph.model)
    assert node.status == "fail"
    assert "gate test.accuracy 0.9000 ≥ 0.95: FAIL" in node.details
    assert "class n_model_local_digits_cnn_3 fail" in render_mermaid(graph)


def test_no_gate_and_no_job_and_no_environment() -> None:
    props = {"metrics": {"test": {"accuracy": 0.9}},
             "lineage": lineage(job=None, environment=False)}  # fmt: skip
    graph = build_graph(version(properties=props), stack="s", serving=SERVING[:1])
    node = graph.node(graph.model)
    assert node.status == "" and "no gate declared" in node.details
    [run] = graph.of_kind("run")
    assert run.title == "training run" and run.id == "run:2026-11-30T10:00:00+00:00"
    assert not graph.of_kind("environment")
    assert (graph.model, "deployment:digits/blue", "90%") in edges(graph)  # served directly


def test_a_version_without_lineage_is_its_node_alone() -> None:
    graph = build_graph(version(properties={}), stack="s")
    assert [n.kind for n in graph.nodes] == ["model"] and graph.edges == ()
    assert render_mermaid(graph).startswith("flowchart LR\n")


def test_a_promoted_version_continues_to_its_source() -> None:
    source = version(0.97)
    graph = build_graph(version(promotion=PROMOTION, number="1"), stack="prod",
                        gates=[GATE], source=source)  # fmt: skip
    assert ("run:job-7", "source:local:digits-cnn:3", "trained") in edges(graph)
    assert ("source:local:digits-cnn:3", "model:prod:digits-cnn:1", "promoted 2026-11-30") in (
        edges(graph)
    )
    assert "stack local" in graph.node("source:local:digits-cnn:3").details
    assert not graph.of_kind("promotion")


def test_an_unreachable_source_shows_the_promotion_record_alone() -> None:
    graph = build_graph(version(promotion=PROMOTION, number="1"), stack="prod")
    [record] = graph.of_kind("promotion")
    assert record.title == "promoted from local:3"
    assert "source not reachable from here" in record.details
    assert ("run:job-7", record.id, "trained") in edges(graph)
    assert (record.id, "model:prod:digits-cnn:1", "promoted 2026-11-30") in edges(graph)
    assert not graph.of_kind("source")


def test_a_source_holding_other_content_says_so() -> None:
    source = replace(version(), digest="sha256:" + "b" * 64)
    graph = build_graph(version(promotion=PROMOTION, number="1"), stack="p", source=source)
    [node] = graph.of_kind("source")
    assert any(d.startswith("now holds other content") for d in node.details)


def test_mermaid_is_well_formed_with_hostile_text() -> None:
    hostile = lineage(job='run "1" <b>#x</b> end')
    props = {"metrics": {"test": {"accuracy": 0.99}}, "lineage": hostile}
    graph = build_graph(version(properties=props), stack="my-stack.v2", gates=[GATE],
                        serving=SERVING)  # fmt: skip
    text = render_mermaid(graph)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    ids: dict[str, str] = {}
    body = [line for line in lines[1:] if not line.lstrip().startswith(("classDef", "class "))]
    for line in body[: len(graph.nodes)]:
        match = NODE_LINE.match(line)
        assert match, line
        ids[match["id"]] = match["label"]
    assert len(ids) == len(graph.nodes)  # unique ids
    assert all(not i.lower().startswith("end") for i in ids)
    found_edges = [EDGE_LINE.match(line) for line in body[len(graph.nodes) :]]
    assert all(found_edges) and len(found_edges) == len(graph.edges)
    for match in found_edges:
        assert match is not None and match["source"] in ids and match["target"] in ids
    [run_label] = [label for label in ids.values() if label.startswith("job ")]
    assert run_label.startswith("job run #quot;1#quot; #lt;b#gt;#35;x#lt;/b#gt; end<br/>")
    assert '"' not in "".join(ids.values())


def test_mermaid_ids_never_collide() -> None:
    graph = LineageGraph("a-b", (Node("a-b", "model", "x"), Node("a_b", "data", "y")), ())
    text = render_mermaid(graph)
    assert 'n_a_b["x"]' in text and 'n_a_b_2["y"]' in text


def test_png_is_a_real_picture(tmp_path: Path) -> None:
    graph = build_graph(version(promotion=PROMOTION, number="1"), stack="prod", gates=[GATE],
                        serving=SERVING)  # fmt: skip
    path = render_png(graph, tmp_path / "sub" / "lineage.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # text and boxes, not an empty canvas
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert width > 1000 and height > 200
    assert colours is not None and len(colours) > 50


def test_a_pipeline_run_names_the_pipeline_and_each_step() -> None:
    steps = {"prep": "prep_1", "train": "train_1", "evaluate": "evaluate_2"}
    recorded = {**lineage(job="pipe_9"), "pipeline": {"id": "pipe_9", "steps": steps}}
    graph = build_graph(version(properties={"lineage": recorded}), stack="s")
    [run] = graph.of_kind("run")
    assert (run.id, run.title) == ("run:pipe_9", "pipeline pipe_9")
    assert run.details[:3] == ("step prep: prep_1", "step train: train_1",
                               "step evaluate: evaluate_2")  # fmt: skip
    assert ("data:digits-train:1", "run:pipe_9", "train") in edges(graph)
