"""No-op loop benchmark: what a `pulumi preview` with nothing to do costs, and where it goes.

A demo-like local stack (the shipped data assets over ``training/prepare_data.py``'s
digits, and the environment) is brought up once; then its no-op ``pulumi preview`` is
timed against the preview of an empty program on the same runtime, venv and backend (the
floor: engine, language host, Python and ``import pulumi``), alternately, best of
``--runs``. One more preview runs the program under cProfile, to say where the program's
own time goes (imports, scanning and hashing, the rest of planning, declaring)::

    .venv/bin/python bench/noop.py            # needs `make setup`; ~2 minutes
    .venv/bin/python bench/noop.py --runs 5
    .venv/bin/python bench/noop.py --compiled # byte-compile the venv and src first

``uv sync`` installs no ``.pyc`` files, and where ``PYTHONDONTWRITEBYTECODE`` is set (as on
this project's machines) Python never writes them, so every process compiles every module
it imports. ``--compiled`` runs ``compileall`` over the venv and ``src`` first (what
``uv sync --compile-bytecode`` would do; it leaves the ``.pyc`` files in place) so the
table shows what that costs.

Everything runs in a scratch folder: a copy of the project (symlinked venv and
toolchain), its own MLSTACK_HOME, state backend and Azurite on a free port.
Prints a table and writes ``bench/results/noop.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``mlstack`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, RESULTS, TOOLS, Row, private_azurite, report, say, scratch
from mlstack.project import HOME_ENV, Project
from mlstack.toolchain import offline_environment

STACK = "bench"
FLAGS = ["--skip-plugin-pre-install", "--non-interactive", "--stack", STACK]
TIMED_MAIN = '''"""The project's program, timed, and under cProfile if asked (bench/noop.py)."""
import cProfile
import json
import os
import time

_started = time.perf_counter()
_profile = cProfile.Profile() if os.environ.get("MLSTACK_BENCH_PROFILE") else None
if _profile:
    _profile.enable()
from mlstack.program import main  # noqa: E402

_imported = time.perf_counter()
main()
_ended = time.perf_counter()
if _profile:
    _profile.disable()
    _profile.dump_stats(os.environ["MLSTACK_BENCH_PROFILE"])
with open(os.environ["MLSTACK_BENCH_TIMES"], "w") as _out:
    json.dump({"import_s": _imported - _started, "main_s": _ended - _imported}, _out)
'''
# Where the program's time goes: (label, how to find it in the profile). They overlap:
# imports include the lazy ones made while planning, planning includes scanning.
PHASES = (
    ("imports, all (incl. lazy ones)", ("<frozen importlib._bootstrap>", "_find_and_load")),
    ("asset specs (config.collect_specs)", ("mlstack/config/specfile.py", "collect_specs")),
    ("scan + digest (content.scan)", ("mlstack/content/scan.py", "scan")),
    ("compiling sources (no .pyc)", ("~", "<built-in method builtins.compile>")),
    ("planning (program.plan)", ("mlstack/program.py", "plan")),
    ("program.main", ("mlstack/program.py", "main")),
)


def project_copy(dest: Path, main: str | None, with_assets: bool) -> Path:
    """The project as Pulumi sees it, in ``dest``; ``main`` replaces ``__main__.py``."""
    dest.mkdir(parents=True)
    shutil.copy(REPO / "Pulumi.yaml", dest / "Pulumi.yaml")
    if main is None:
        shutil.copy(REPO / "__main__.py", dest / "__main__.py")
    else:
        (dest / "__main__.py").write_text(main)
    for name in (".venv", ".tools"):
        (dest / name).symlink_to(REPO / name)
    (dest / "stacks").mkdir()
    local = (REPO / "stacks" / "Pulumi.local.yaml").read_text().splitlines()
    config = "\n".join(line for line in local if not line.startswith("encryptionsalt"))
    (dest / "stacks" / f"Pulumi.{STACK}.yaml").write_text(config + "\n")
    if with_assets:
        for kind in ("data", "environments"):
            shutil.copytree(REPO / "assets" / kind, dest / "assets" / kind)
    return dest


def pulumi(cwd: Path, env: dict[str, str], *args: str, engine: bool = True) -> float:
    """Seconds one ``pulumi`` command took; its output is kept only if it fails."""
    command = ["pulumi", *args, *(FLAGS if engine else ["--non-interactive"])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}{done.stderr}")
    return time.perf_counter() - started


def environment(home: Path, project: Path) -> dict[str, str]:
    """The offline environment, with the project's own state backend (both are `mlstack`)."""
    base = {k: v for k, v in os.environ.items() if k not in ("PULUMI_BACKEND_URL", "PULUMI_HOME")}
    base[HOME_ENV] = str(home / "mlstack")
    state = home / f"state-{project.name}"
    state.mkdir(exist_ok=True)
    base["PULUMI_BACKEND_URL"] = f"file://{state}"
    base["PULUMI_HOME"] = str(home / "pulumi-home")
    return {**base, **offline_environment(Project(project), base)}


def phases(profile: Path) -> dict[str, float]:
    """Cumulative seconds of each phase of the program, from its profile."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    found: dict[str, float] = {}
    for label, (file_part, function) in PHASES:
        found[label] = max(
            (row[3] for (file, _, name), row in stats.items()
             if name == function and file.endswith(file_part)),
            default=0.0,
        )  # fmt: skip
    return found


def top(profile: Path, count: int = 15) -> list[str]:
    """The functions of the program with the most cumulative time, as text lines."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda item: item[1][3], reverse=True)[:count]
    return [f"{row[3]:7.3f} s  {file.rsplit('site-packages/', 1)[-1]}:{line} {name}"
            for (file, line, name), row in rows]  # fmt: skip


def run(args: argparse.Namespace, home: Path, rows: list[Row], extra: dict[str, Any]) -> None:
    demo = project_copy(home / "demo", None, with_assets=True)
    empty = project_copy(home / "empty", "import pulumi  # an empty program: the floor\n", False)
    env, floor_env = environment(home, demo), environment(home, empty)
    say("writing the digits dataset ...")
    prepare = [str(REPO / ".venv/bin/python"), str(REPO / "training/prepare_data.py")]
    subprocess.run([*prepare, "--out", str(demo / "data" / "digits")], check=True,
                   capture_output=True)  # fmt: skip
    with private_azurite(home / "mlstack"):
        pulumi(demo, env, "stack", "init", STACK, engine=False)
        pulumi(empty, floor_env, "stack", "init", STACK, engine=False)
        up = pulumi(demo, env, "up", "--yes")
        say(f"first pulumi up of the demo-like stack: {up:.1f} s")
        pulumi(empty, floor_env, "up", "--yes")
        timings: dict[str, list[float]] = {"demo": [], "empty": []}
        for _ in range(args.runs):  # alternately, so drifting load hits both alike
            timings["empty"].append(pulumi(empty, floor_env, "preview", "--expect-no-changes"))
            timings["demo"].append(pulumi(demo, env, "preview", "--expect-no-changes"))
        say(f"no-op previews: demo {timings['demo']}, empty {timings['empty']}")
        (demo / "__main__.py").write_text(TIMED_MAIN)
        times, profile = home / "times.json", home / "program.pstats"
        timed_env = {**env, "MLSTACK_BENCH_TIMES": str(times)}
        pulumi(demo, timed_env, "preview", "--expect-no-changes")
        program = json.loads(times.read_text())
        profiled = pulumi(demo, {**timed_env, "MLSTACK_BENCH_PROFILE": str(profile)},
                          "preview", "--expect-no-changes")  # fmt: skip
        pulumi(demo, env, "destroy", "--yes")
    demo_s, floor_s = min(timings["demo"]), min(timings["empty"])
    spent = phases(profile)
    own = program["import_s"] + program["main_s"]
    extra.update(runs=args.runs, compiled=args.compiled, timings=timings, first_up_s=up,
                 profiled_preview_s=profiled, program_s=program, program_phases_profiled_s=spent,
                 program_top=top(profile))  # fmt: skip
    rows.append(Row("no-op preview, demo-like stack", demo_s, "s", "empty program's preview",
                    floor_s, demo_s / floor_s,
                    note=f"best of {args.runs}; 3 data assets + 1 environment"))  # fmt: skip
    rows.append(Row("  above the floor", demo_s - floor_s, "s",
                    note="program + provider process + diff calls"))  # fmt: skip
    rows.append(Row("  the program, timed", own, "s",
                    note="what runs in the language host after Python starts"))  # fmt: skip
    rows.append(Row("    module imports (mlstack.program)", program["import_s"], "s"))
    rows.append(Row("    main(): specs, planning, declaring", program["main_s"], "s"))
    rows.append(Row("  engine, provider process, diffs", max(0.0, demo_s - floor_s - own), "s",
                    note="the rest above the floor, outside the program"))  # fmt: skip
    for label, seconds in spent.items():
        rows.append(Row(f"  profiled: {label}", seconds, "s",
                        note="under cProfile (inflated); phases overlap"))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="previews of each kind")
    parser.add_argument("--compiled", action="store_true",
                        help="byte-compile .venv and src before measuring")  # fmt: skip
    parser.add_argument("--json", type=Path, default=RESULTS / "noop.json")
    args = parser.parse_args(argv)
    if args.compiled:
        say("byte-compiling .venv and src ...")
        site = next((REPO / ".venv" / "lib").glob("python*/site-packages"))
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(site),
                        str(REPO / "src")], check=False, capture_output=True)  # fmt: skip
    if not (TOOLS / "bin" / "pulumi").exists():
        parser.error("the pulumi CLI is missing: run `make setup` first")
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    with scratch("noop") as home:
        run(args, home, rows, extra)
    report("noop", rows, extra, time.perf_counter() - started, args.json)
    print("\nthe program's top functions (cumulative):\n  " + "\n  ".join(extra["program_top"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
