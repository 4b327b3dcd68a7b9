"""What every mlstack benchmark needs: a private Azurite, timing, peak memory, the machine.

A benchmark never touches the developer's ``.mlstack/``: it starts its own Azurite in a
temporary home on a free port and removes the whole home when it is done.
"""

from __future__ import annotations

import json
import os
import platform
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from mlstack.content.blobstore import BlobEndpoint
from mlstack.services.azurite import Azurite, free_port

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".tools"
RESULTS = REPO / "bench" / "results"
MIB = 1 << 20
T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One line of a result table: a measure against its anchor from the same run."""

    measure: str
    value: float
    unit: str
    anchor_name: str = ""
    anchor: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``call`` took (perf_counter) and what it returned."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def best_of(runs: int, call: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings: for cheap, noise-prone measures only."""
    return min(timed(call)[0] for _ in range(runs))


def peak_rss_mib() -> float:
    """This process's peak resident set so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def scratch(label: str) -> Iterator[Path]:
    """A temporary folder for one benchmark run, removed with everything in it."""
    home = Path(tempfile.mkdtemp(prefix=f"mlstack-bench-{label}-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def private_azurite(home: Path, database: str | None = None) -> Iterator[BlobEndpoint]:
    """An Azurite of our own under ``home`` (never the developer's), stopped on exit.

    ``database``: an ``AZURITE_DB`` URL, to keep blob metadata in SQL instead of LokiJS.
    """
    service = Azurite(home, TOOLS)
    saved = os.environ.pop("AZURITE_DB", None)
    if database:
        os.environ["AZURITE_DB"] = database  # Azurite.start passes os.environ on
    try:
        state = service.start(free_port())
    finally:
        os.environ.pop("AZURITE_DB", None)
        if saved is not None:
            os.environ["AZURITE_DB"] = saved
    try:
        yield state.endpoint
    finally:
        service.stop()


@contextmanager
def private_mariadb(home: Path) -> Iterator[Callable[[str], str]]:
    """A MariaDB of our own on a free loopback port, for Azurite's SQL metadata store.

    Yields ``database(name)``, which creates an empty database and returns its
    ``AZURITE_DB`` URL; every lane gets its own, as it gets its own Azurite. Needs the
    ``mariadb-server`` package (``apt-get install mariadb-server``); the server runs as
    the current user with its data under ``home`` and is stopped by its pid on exit.
    """
    install, server = shutil.which("mariadb-install-db"), shutil.which("mariadbd")
    server = server or ("/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None)
    if install is None or server is None:
        raise RuntimeError("--sql needs MariaDB: apt-get install mariadb-server")
    data, sock, port = home / "mariadb", home / "mariadb.sock", free_port()
    user = pwd.getpwuid(os.getuid()).pw_name
    log = (home / "mariadb.log").open("ab")
    subprocess.run([install, "--no-defaults", f"--datadir={data}", f"--user={user}",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, stdout=log, stderr=log)  # fmt: skip
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--user={user}", "--skip-log-bin",
         "--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=512M"],
        stdout=log, stderr=log,
    )  # fmt: skip
    client = ["mariadb", "--no-defaults", f"--socket={sock}", "-uroot", "-e"]

    def sql(statement: str) -> None:
        subprocess.run([*client, statement], check=True, capture_output=True)

    try:
        deadline = time.monotonic() + 60
        while subprocess.run([*client, "SELECT 1"], capture_output=True, check=False).returncode:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"MariaDB did not start; see {home / 'mariadb.log'}")
            time.sleep(0.5)
        sql("CREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY 'bench'; "
            "GRANT ALL ON *.* TO 'bench'@'127.0.0.1'")  # fmt: skip

        def database(name: str) -> str:
            sql(f"CREATE DATABASE `{name}`")
            return f"mysql://bench:bench@127.0.0.1:{port}/{name}"

        yield database
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def say(text: str) -> None:
    """Progress of a benchmark run, on stderr (the table goes to stdout)."""
    print(text, file=sys.stderr, flush=True)


def connection_string(endpoint: BlobEndpoint) -> str:
    """The endpoint in the form DVC (adlfs) and the az CLI accept."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={endpoint.account};"
        f"AccountKey={endpoint.key};BlobEndpoint={endpoint.url};"
    )


def machine() -> dict[str, Any]:
    """Enough about this machine to compare two result files honestly."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        meminfo = Path("/proc/meminfo").read_text().split()
        ram_gib = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / MIB, 1)
    except (OSError, ValueError):
        ram_gib = 0.0
    return {
        "nproc": os.cpu_count(),
        "ram_gib": ram_gib,
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    """The rows as an aligned plain-text table."""
    head = ("measure", "value", "anchor", "anchor value", "ratio", "target", "met")
    lines = [
        (
            r.measure,
            _fmt(r.value, r.unit),
            r.anchor_name or "-",
            _fmt(r.anchor, r.unit),
            _fmt(r.ratio, "x") if r.ratio is not None else "-",
            r.target or "-",
            "-" if r.met is None else ("yes" if r.met else "NO"),
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in (head, *lines)
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {r.measure}: {r.note}" for r in rows if r.note]
    return "\n".join(out + (["", "notes:", *notes] if notes else []))


def report(name: str, rows: list[Row], params: dict[str, Any], wall: float, path: Path) -> None:
    """Print the table and how many targets were met, and write the run's JSON to ``path``."""
    print(table(rows))
    judged = [r for r in rows if r.met is not None]
    print(
        f"\ntargets met: {sum(bool(r.met) for r in judged)}/{len(judged)}; "
        f"total wall time {wall:.0f} s"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "machine": machine(), "wall_s": round(wall, 1),
              "params": params, "rows": [r.to_dict() for r in rows]}  # fmt: skip
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path}", file=sys.stderr)
