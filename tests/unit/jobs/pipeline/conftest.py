"""A tiny project of file components (no torch, no workspace) for the pipeline runner.

Every component runs ``step.py`` from its own code folder: it appends ``start``/``end``
events to a shared file, can wait until another step has started (so two steps finish
only if they ran at the same time), writes ``MLSTACK_JOB`` beside the events, and writes
its output from its name, its ``SALT`` and its inputs' files, so equal inputs give equal
bytes.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

STEP = textwrap.dedent("""\
    import argparse, json, os, pathlib, sys, time

    SALT = ""
    p = argparse.ArgumentParser()
    p.add_argument("--name"); p.add_argument("--events"); p.add_argument("--out")
    p.add_argument("--inp", action="append", default=[]); p.add_argument("--wait-for")
    p.add_argument("--fail", action="store_true"); p.add_argument("--label", default="")
    a = p.parse_args()
    events = pathlib.Path(a.events)
    def log(what):
        with events.open("a") as f:
            f.write(f"{what} {a.name}\\n")
    log("start")
    (events.parent / f"{a.name}.job.json").write_text(os.environ["MLSTACK_JOB"])
    print(f"hello from {a.name}")
    if a.wait_for:
        deadline = time.monotonic() + 60
        while f"start {a.wait_for}" not in events.read_text().split("\\n"):
            if time.monotonic() > deadline:
                log("gave-up"); sys.exit(4)
            time.sleep(0.02)
    if a.fail:
        log("end"); sys.exit(3)
    parts = [a.name + SALT + a.label]
    for folder in a.inp:
        for f in sorted(pathlib.Path(folder).rglob("*")):
            if f.is_file():
                parts.append(f.read_text())
    pathlib.Path(a.out, "result.txt").write_text("|".join(parts))
    log("end")
""")


def component_yaml(
    name: str,
    inputs: dict[str, str],
    extra: str = "",
    deterministic: bool = True,
    optional: str = "",
) -> str:
    """A command component running ``step.py``; ``inputs`` maps name → type."""
    ports = "".join(f"  {k}: {{type: {t}}}\n" for k, t in inputs.items())
    if optional:
        ports += f"  {optional}: {{type: string, optional: true}}\n"
    data = " ".join(f"--inp ${{{{inputs.{k}}}}}" for k, t in inputs.items() if t == "uri_folder")
    wait = f" $[[--wait-for ${{{{inputs.{optional}}}}}]]" if optional else ""
    return (
        f"name: {name}\ntype: command\ncode: ./{name}\nenvironment: azureml:py@latest\n"
        f"is_deterministic: {str(deterministic).lower()}\n"
        f"inputs:\n  events: {{type: string}}\n{ports}"
        "outputs:\n  out: {type: uri_folder}\n"
        f"command: python step.py --name {name} --events ${{{{inputs.events}}}} {data}{wait}"
        f" --out ${{{{outputs.out}}}}{extra}\n"
    )


@dataclass
class Project:
    root: Path
    home: Path
    events: Path

    def component(self, name: str, inputs: dict[str, str], **kw: object) -> Path:
        code = self.root / "components" / name
        code.mkdir(parents=True, exist_ok=True)
        (code / "step.py").write_text(STEP)
        file = self.root / "components" / f"{name}.yaml"
        file.write_text(component_yaml(name, inputs, **kw))  # type: ignore[arg-type]
        return file

    def salt(self, name: str, salt: str) -> None:
        """Change a component's code: a new SALT changes its output, a comment does not."""
        script = self.root / "components" / name / "step.py"
        script.write_text(
            script.read_text().replace('SALT = ""', f"SALT = {salt!r}")
            if salt
            else script.read_text() + "# a comment\n"
        )

    def pipeline(self, body: str, name: str = "pipe.yaml") -> Path:
        file = self.root / name
        file.write_text(body.replace("EVENTS", str(self.events)))
        return file

    def events_seen(self) -> list[str]:
        return self.events.read_text().splitlines() if self.events.exists() else []


@pytest.fixture
def tiny(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.txt").write_text("raw-1")
    (tmp_path / "run").mkdir()
    return Project(root, tmp_path / "home", tmp_path / "run" / "events.txt")
