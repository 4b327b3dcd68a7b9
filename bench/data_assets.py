"""Data-asset benchmark: digest, registration and memory of an MNIST-sized image folder.

Every measure is taken against an anchor measured in the same run, on the same machine,
against the same private Azurite (see ``bench/README.md`` for what each ratio means)::

    .venv/bin/python bench/data_assets.py              # 70,000 files, 1 GiB single file
    .venv/bin/python bench/data_assets.py --files 2000 --big-mib 64 --skip-dvc   # quick

Prints a table and writes ``bench/results/data_assets.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``mlstack`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    MIB,
    REPO,
    RESULTS,
    TOOLS,
    Row,
    best_of,
    connection_string,
    peak_rss_mib,
    private_azurite,
    report,
    scratch,
    timed,
)
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.hashcache import SqliteHashCache
from mlstack.content.scan import scan
from mlstack.content.transfer import upload
from mlstack.workspace.asset import datastore_uri, upload_prefix
from mlstack.workspace.local import LocalWorkspace

CLASSES = 10
THREADS = 8  # upload()'s default, which the DataAsset provider uses
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SETTLED_S = 3600  # generated files look an hour old: past the hash cache's racy window
DVC_VENV = TOOLS / "bench-dvc"
DVC_REQUIREMENTS = REPO / "tools" / "bench" / "dvc-requirements.txt"


# -- the data -----------------------------------------------------------------------------


def generate_tree(root: Path, files: int, seed: int = 0) -> int:
    """``files`` PNG-like files of 300-800 random bytes in 10 class folders; total bytes."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    settled = time.time() - SETTLED_S
    total = 0
    for label in range(CLASSES):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
    for index in range(files):
        path = root / str(index % CLASSES) / f"{index:06d}.png"
        body = PNG_MAGIC + rng.randbytes(rng.randint(300, 800) - len(PNG_MAGIC))
        path.write_bytes(body)
        os.utime(path, (settled, settled))
        total += len(body)
    return total


def rewrite(root: Path, count: int, files: int, seed: int = 1) -> None:
    """New bytes for ``count`` evenly spread files, with an mtime the cache has not seen."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    settled = time.time() - SETTLED_S / 2
    for index in range(0, files, max(1, files // count))[:count]:
        path = root / str(index % CLASSES) / f"{index:06d}.png"
        path.write_bytes(PNG_MAGIC + rng.randbytes(rng.randint(300, 800) - len(PNG_MAGIC)))
        os.utime(path, (settled, settled))


def generate_big(path: Path, size: int, seed: int = 2) -> None:
    """One file of ``size`` random bytes, written in 4 MiB chunks (never held whole)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for start in range(0, size, 4 * MIB):
            out.write(rng.randbytes(min(4 * MIB, size - start)))
    settled = time.time() - SETTLED_S
    os.utime(path, (settled, settled))


def walk_floor(root: Path) -> int:
    """The least any digest can cost: one scandir + stat walk; returns the file count."""
    count, pending = 0, [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


def digest(root: Path, cache_file: Path) -> str:
    """What the Pulumi program pays per asset on every preview: open cache, scan, digest."""
    with SqliteHashCache.open(cache_file) as cache:
        return str(scan(root, cache).digest)


# -- registration, as the DataAsset provider does it ----------------------------------------


@dataclass(frozen=True)
class Job:
    """One registration: a folder, the hash cache, and the workspace to register it in."""

    root: Path
    cache_file: Path
    catalog: Path
    container: str
    endpoint: BlobEndpoint
    name: str


def register(job: Job) -> dict[str, Any]:
    """Mirror of ``providers.data_asset._register``: scan, upload what is lacking, register."""
    started = time.perf_counter()
    ws = LocalWorkspace(job.catalog, job.container, lambda: job.endpoint)
    with SqliteHashCache.open(job.cache_file) as cache:
        manifest = scan(job.root, cache)
    root, name = job.root, job.name
    prefix = upload_prefix(manifest.digest, name)
    report = upload(
        root, manifest, ws.endpoint, ws.container, prefix, ws.stored_content(), progress=False
    )
    data, _ = ws.register_data(name, type_="uri_folder", uri=datastore_uri(prefix),
                               manifest=manifest)  # fmt: skip
    return {
        "seconds": time.perf_counter() - started,
        "version": data.version,
        "digest": manifest.digest,
        "transfer": str(report),
        "uploaded": report.uploaded_files,
        "copied": report.copied_files,
    }


def register_in_child(job: Job) -> dict[str, Any]:
    """``register`` in a fresh process, with that process's peak RSS."""
    result = register(job)
    return {**result, "peak_rss_mib": peak_rss_mib()}


def in_child(job: Job) -> dict[str, Any]:
    """Register in a spawned process, so its peak memory is its own alone."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(register_in_child, job).result()


def new_workspace(catalog: Path, container: str, endpoint: BlobEndpoint) -> None:
    LocalWorkspace(catalog, container, lambda: endpoint).create("bench", "benchmark", {})


# -- anchors -----------------------------------------------------------------------------


def raw_upload(root: Path, endpoint: BlobEndpoint, container: str, threads: int) -> float:
    """The emulator's ceiling: the same files, read and PUT by a plain pooled thread loop."""
    paths = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    service = endpoint.client(pool=threads)
    client = service.create_container(container)

    def put(relpath: str) -> None:
        client.upload_blob(f"raw/{relpath}", (root / relpath).read_bytes(), overwrite=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put, paths))
    return time.perf_counter() - start


def list_time(endpoint: BlobEndpoint, container: str, prefix: str) -> float:
    """Seconds of one metadata listing of ``prefix``, as upload() does to verify a version."""
    client = endpoint.client().get_container_client(container)
    seconds, _ = timed(
        lambda: sum(
            1 for _ in client.list_blobs(name_starts_with=f"{prefix}/", include=["metadata"])
        )
    )
    return seconds


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
        raise RuntimeError(f"`{' '.join(command[:3])}` failed: " + " | ".join(tail))


def ensure_dvc() -> Path:
    """DVC in a venv of its own under ``.tools/bench-dvc`` (created once, pinned)."""
    dvc = DVC_VENV / "bin" / "dvc"
    if not dvc.exists():
        print(f"installing DVC into {DVC_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(DVC_VENV)], check=True)
        pip = [str(DVC_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(DVC_REQUIREMENTS)], check=True)
    return dvc


def dvc_add_push(repo: Path, endpoint: BlobEndpoint, container: str) -> tuple[float, float, int]:
    """Seconds of ``dvc add images`` and of ``dvc push`` to ``container``, and blobs pushed."""
    dvc = str(ensure_dvc())
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    endpoint.client().create_container(container)
    for command in (
        ["init", "--no-scm", "-q"],
        ["config", "core.site_cache_dir", str(repo.parent / "dvc-site")],
        ["remote", "add", "-d", "azurite", f"azure://{container}/store"],
        ["remote", "modify", "--local", "azurite", "connection_string",
         connection_string(endpoint)],
    ):  # fmt: skip
        _run([dvc, *command], repo, env)
    add_s, _ = timed(lambda: _run([dvc, "add", "-q", "images"], repo, env))
    push_s, _ = timed(lambda: _run([dvc, "push", "-q"], repo, env))
    pushed = sum(1 for _ in endpoint.client().get_container_client(container).list_blobs())
    return add_s, push_s, pushed


# -- the run -----------------------------------------------------------------------------


def run(args: argparse.Namespace, home: Path, rows: list[Row], extra: dict[str, Any]) -> None:
    files, threads = args.files, THREADS
    root, cache = home / "data" / "images", home / "cache" / "hashes.db"
    gen_s, nbytes = timed(lambda: generate_tree(root, files))
    extra.update(files=files, bytes=nbytes, generate_s=round(gen_s, 2), threads=threads)
    say(f"generated {files} files ({nbytes / MIB:.1f} MiB) in {gen_s:.1f} s")

    # 1. digest: cold, then warm (a no-op preview) against one bare walk of the tree.
    floor = best_of(2, lambda: walk_floor(root))
    cold, _ = timed(lambda: digest(root, cache))
    warm = best_of(2, lambda: digest(root, cache))
    rows.append(Row("no-op digest (warm cache)", warm, "s", "scandir+stat walk", floor,
                    warm / floor, "<= 1.5x", warm / floor <= 1.5))  # fmt: skip
    rows.append(Row("cold digest (empty cache)", cold, "s", "scandir+stat walk", floor,
                    cold / floor, note="informative: hashes every file"))  # fmt: skip
    say(f"walk {floor:.2f} s, cold digest {cold:.2f} s, warm digest {warm:.2f} s")

    # Azurite (LokiJS) looks every blob up by a scan of the whole account, so a PUT slows as
    # the account fills: each lane gets a fresh Azurite, or later lanes would pay for earlier.
    with private_azurite(home / "lane-raw") as endpoint:
        raw = raw_upload(root, endpoint, "bench-raw", threads)
    say(f"raw upload {raw:.1f} s")

    # 2. first registration against the emulator's ceiling, then 3. one after a 1% change.
    with private_azurite(home / "lane-mlstack") as endpoint:
        catalog = home / "workspace.db"
        new_workspace(catalog, "bench-ws", endpoint)
        job = Job(root, cache, catalog, "bench-ws", endpoint, "images")
        first = in_child(job)
        reg = first["seconds"]
        say(f"first registration {reg:.1f} s")
        listing = list_time(endpoint, "bench-ws", upload_prefix(first["digest"], "images"))
        changed = max(1, files // 100)
        rewrite(root, changed, files)
        again = register(job)
        say(f"registration after the change {again['seconds']:.1f} s")
    extra.update(first_registration=first, changed_registration=again, listing_s=listing)
    rows.append(Row("first registration", reg, "s", f"raw upload_blob x{threads}", raw,
                    raw / reg, ">= 0.9x throughput", raw / reg >= 0.9,
                    f"{files / reg:,.0f} files/s vs raw {files / raw:,.0f} files/s; "
                    "scan warm, as after the program's digest"))  # fmt: skip
    rows.append(Row("one listing of the version's blobs", listing, "s",
                    note="informative: upload() lists before and after sending"))  # fmt: skip
    rows.append(Row(f"registration after {changed} files changed", again["seconds"], "s",
                    "first registration", reg, again["seconds"] / reg, "<= 0.05x",
                    again["seconds"] / reg <= 0.05, again["transfer"]))  # fmt: skip

    dvc_lane(home, files, cold + reg, rows, extra, skip=args.skip_dvc)

    # 4. peak memory: the folder (the first registration's child) and one big file.
    rows.append(Row(f"peak RSS, {files}-file asset", first["peak_rss_mib"], "MiB",
                    target="< 500 MiB", met=first["peak_rss_mib"] < 500))  # fmt: skip
    big = home / "big" / "blob.bin"
    generate_big(big, args.big_mib * MIB)
    with private_azurite(home / "lane-big") as endpoint:
        big_catalog = home / "big-workspace.db"
        new_workspace(big_catalog, "bench-big", endpoint)
        single = in_child(Job(big.parent, cache, big_catalog, "bench-big", endpoint, "big"))
    extra["big_registration"] = single
    rows.append(Row(f"peak RSS, {args.big_mib} MiB single file", single["peak_rss_mib"],
                    "MiB", target="< 500 MiB", met=single["peak_rss_mib"] < 500,
                    note=f"registered in {single['seconds']:.1f} s "
                    f"({args.big_mib / single['seconds']:.0f} MiB/s)"))  # fmt: skip


def dvc_lane(
    home: Path, files: int, ours: float, rows: list[Row], extra: dict[str, Any], *, skip: bool
) -> None:
    """``dvc add`` + ``dvc push`` of an identical copy, against our cold scan + registration."""
    if skip:
        rows.append(Row("cold scan + first registration", ours, "s", note="DVC skipped"))
        return
    repo = home / "dvc"
    generate_tree(repo / "images", files)  # same seed: the same bytes, its own copy
    try:
        with private_azurite(home / "lane-dvc") as endpoint:
            add_s, push_s, pushed = dvc_add_push(repo, endpoint, "bench-dvc")
    except (RuntimeError, subprocess.CalledProcessError) as error:
        extra["dvc_error"] = str(error)
        rows.append(Row("cold scan + first registration", ours, "s", "dvc add+push",
                        target="faster than DVC", note=f"DVC failed: {error}"))  # fmt: skip
    else:
        dvc_s = add_s + push_s
        say(f"dvc add {add_s:.1f} s, push {push_s:.1f} s")
        extra["dvc"] = {"add_s": add_s, "push_s": push_s, "blobs": pushed}
        rows.append(Row("cold scan + first registration", ours, "s",
                        "dvc add + dvc push", dvc_s, ours / dvc_s,
                        "< 1x (faster than DVC)", ours < dvc_s,
                        f"dvc add {add_s:.1f} s + push {push_s:.1f} s "
                        f"({pushed} blobs pushed)"))  # fmt: skip


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=70_000, help="files in the image folder")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the single file")
    parser.add_argument("--skip-dvc", action="store_true", help="leave out the DVC anchor")
    parser.add_argument("--json", type=Path, default=RESULTS / "data_assets.json")
    args = parser.parse_args(argv)

    rows: list[Row] = []
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    with scratch("data-assets") as home:
        run(args, home, rows, extra)
    wall = time.perf_counter() - started
    report("data_assets", rows, extra, wall, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
