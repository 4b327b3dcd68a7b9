"""Blob transfer: put a manifest's files into a datastore folder, sending only what it lacks.

A version lands as a plain folder (``LocalUpload/<hex digest>/<asset name>/<relpath>``) that
a training job can mount as it is, so nothing of ours lives inside it: each blob carries its
sha256 as metadata, and the completion marker is a hidden sibling of the folder, written last.

Whatever the datastore already holds is reused, so a version costs what changed:

- blobs already in place are skipped (a resumed transfer);
- content known under another name is copied server-side, or sent again where that was
  measured to be cheaper (:mod:`mlstack.content.calibration`); copies are started in the
  pool and never awaited one by one (:mod:`mlstack.content.sender`);
- a large file that changed in part reuses its earlier blob's unchanged blocks
  (:mod:`mlstack.content.blocks`).

What proves each blob before the marker is written: for a blob already in place, the
listing taken before the transfer (size and sha256 metadata); for a blob sent, the
service's acceptance of a body whose MD5 it checked and whose sha256 was computed here
from the very bytes sent, with that sha256 set in the same request;
for a blob copied from a blob whose ETag a marker recorded, the service's acceptance of
that ETag as the copy's precondition (the source is as it was when verified); for any other
copy, a listing after the transfer showing it inherited the expected sha256 (copies from a
source that did not hold what ``known`` claimed are sent again). The marker records the
ETag of every blob stored, so the next version's copies need no listing. The folder name is
the digest of its manifest, so no other writer can put different files there.
Retries, the client, the progress bar and the pool come from :mod:`mlstack.content.transport`.

A plain folder needs one blob, so one request, per file: a version of n files costs n
requests whatever changed (blob storage has no links or directory copies; a layout of
references, such as an MLTable over a content store, would cost O(changed) but could no
longer be mounted as a folder). What the design makes small is everything else: bytes
sent, client work and request cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from mlstack.content import calibration
from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.calibration import SAMPLE, SMALL_FILE, Choice, Chooser, Costs
from mlstack.content.completion import (
    DIGEST,
    Known,
    Sealed,
    complaint,
    is_complete,
    listing,
    marker_digest,
    marker_name,
    problems,
)
from mlstack.content.manifest import FileEntry, Manifest
from mlstack.content.report import TransferReport, build
from mlstack.content.retry import DEFAULT_RETRY, RetryPolicy, with_retry
from mlstack.content.sender import Done, Sender
from mlstack.content.transport import (
    Meter,
    RequestCounter,
    blob_name,
    check_paths,
    clean_prefix,
    run_parallel,
    transfer_client,
)

__all__ = [
    "Choice",
    "Known",
    "RetryPolicy",
    "TransferReport",
    "is_complete",
    "marker_name",
    "upload",
]

Step = tuple[FileEntry, str | None]
_Uploader = Sender  # the per-file work's former name, which tests elsewhere still patch


@dataclass(frozen=True)
class _Plan:
    """Per file: already in place, or (entry, copy source or None to send) in two waves."""

    skipped: tuple[FileEntry, ...]
    first: tuple[tuple[FileEntry, str | None], ...]
    later: tuple[tuple[FileEntry, str | None], ...]


def _plan(
    manifest: Manifest,
    prefix: str,
    existing: Mapping[str, tuple[int, str | None]],
    known: Mapping[str, str],
) -> _Plan:
    """Skip what is in place; copy known content (blobs skipped here count as known); send
    each other sha256 once, copying its duplicates from that blob in a second wave."""
    skipped = [
        e for e in manifest.entries if existing.get(blob_name(prefix, e)) == (e.size, e.sha256)
    ]
    sources = dict(known)
    for entry in skipped:
        sources.setdefault(entry.sha256, blob_name(prefix, entry))
    in_place = {e.path for e in skipped}
    first: list[tuple[FileEntry, str | None]] = []
    later: list[tuple[FileEntry, str | None]] = []
    sent: dict[str, str] = {}
    for entry in (e for e in manifest.entries if e.path not in in_place):
        if entry.sha256 in sources:
            first.append((entry, sources[entry.sha256]))
        elif entry.sha256 in sent:
            later.append((entry, sent[entry.sha256]))
        else:
            first.append((entry, None))
            sent[entry.sha256] = blob_name(prefix, entry)
    return _Plan(tuple(skipped), tuple(first), tuple(later))


def _bases(known: Mapping[str, str]) -> Callable[[FileEntry], list[str]]:
    """Earlier blobs of an entry's path, from the blob names in ``known``: where a changed
    large file looks for blocks to reuse. Versions are ``<prefix>/<relpath>`` folders, so
    a blob of the same relpath in another version is the file's previous state."""
    names = sorted(set(known.values()))
    return lambda entry: [name for name in names if name.endswith(f"/{entry.path}")]


def upload(  # noqa: PLR0917 - positional order is the one the issue specifies
    root: Path,
    manifest: Manifest,
    endpoint: BlobEndpoint,
    container: str,
    prefix: str,
    known: Known | Mapping[str, str],
    threads: int = 8,
    progress: bool = True,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    choice: Choice = "measure",
    source_sas: str = "",
) -> TransferReport:
    """Make ``<prefix>/`` a verified copy of ``manifest`` (files under ``root``), marker last.

    ``known`` maps sha256 → a blob holding that content, in ``container`` (e.g. from earlier
    versions), as ``/<container>/<blob>`` in another container of the same account, or as
    the absolute URL of a blob in another account, its path not percent-encoded (read with
    ``source_sas``, which never leaves the copy requests); such content is copied
    server-side (or re-sent, where measured cheaper: ``choice``), and large files reuse the
    blocks of a known blob of the same relpath. A :class:`Known` also carries the sources'
    recorded ETags, which spare the listing that otherwise verifies copies. ``root`` need not
    exist when everything is known (a promotion). The report counts files, bytes and
    requests; see :class:`TransferReport`.
    """
    started = time.monotonic()
    known = known if isinstance(known, Known) else Known(dict(known))
    prefix = clean_prefix(prefix)
    check_paths(manifest)
    counter = RequestCounter()
    with transfer_client(endpoint, threads) as service:
        client = service.get_container_client(container)
        if marker_digest(client, prefix, retry, counter) == manifest.digest:
            return build(seconds=time.monotonic() - started, done=[], copyable=set(),
                         skipped=manifest.entries, requests=counter.by_kind())  # fmt: skip
        existing = listing(client, prefix, retry, counter)
        expected = {blob_name(prefix, e) for e in manifest.entries}
        stray = {name: "not in the manifest" for name in existing.keys() - expected}
        if stray:  # refuse before sending anything: the folder must end up a plain copy
            raise complaint(container, prefix, stray)
        plan = _plan(manifest, prefix, existing, known.blobs)
        chooser = Chooser(choice, root.is_dir(), calibration.costs_of(endpoint.url))

        etags = dict(known.etags)  # grows by the blobs the first wave sends: the later's sources
        files = len(plan.first) + len(plan.later)
        to_send = sum(e.size for e, source in plan.first if source is None)
        with (
            Meter(f"upload {prefix.rpartition('/')[2]}", files, to_send, progress) as meter,
            ThreadPoolExecutor(max_workers=threads) as pool,
        ):
            sender = Sender(root, service.get_container_client(container), prefix, meter,
                            retry=retry, counter=counter, bases=_bases(known.blobs),
                            source_sas=source_sas, etags=etags)  # fmt: skip
            run = _Run(sender, pool, meter, chooser)
            done = run.sample(list(plan.first), endpoint.url)
            done += run.steps([s for s in plan.first if s[0].path not in run.sampled])
            etags.update((blob_name(prefix, d.entry), d.etag) for d in done if d.etag)
            done += run.steps(list(plan.later))
            done = run.sender.settle(done, pool)

            wrong: dict[str, str] = {}
            if any(d.kind == "copied" and not d.sealed for d in done):
                # A copy inherits its source's metadata, so a source that did not hold what
                # ``known`` claimed shows up here; those files are sent from the client.
                wrong = problems(manifest, prefix, listing(client, prefix, retry, counter))
                redo = [d for d in done
                        if d.kind == "copied" and blob_name(prefix, d.entry) in wrong]  # fmt: skip
                if redo and len(redo) == len(wrong):
                    meter.grow(0, sum(d.entry.size for d in redo))
                    resent = run_parallel(pool, [run.sender.step(d.entry, None) for d in redo])
                    done = [d for d in done if d not in redo] + resent
                    wrong = problems(manifest, prefix, listing(client, prefix, retry, counter))
        if wrong:
            raise complaint(container, prefix, wrong)

        sealed = Sealed(manifest, {d.entry.path: d.etag for d in done if d.etag})
        with_retry(
            lambda: client.upload_blob(
                marker_name(prefix),
                sealed.to_json().encode(),
                overwrite=True,
                metadata={DIGEST: manifest.digest},
                **counter.options,
            ),
            f"writing the completion marker of '{prefix}/'",
            retry,
        )
    costs = run.chooser.costs
    return build(
        seconds=time.monotonic() - started, done=done, skipped=plan.skipped,
        copyable={e.path for e, source in (*plan.first, *plan.later) if source is not None},
        requests=counter.by_kind(),
        copy_ms=costs.copy_s * 1000 if costs else None,
        send_ms=costs.send_s * 1000 if costs else None,
    )  # fmt: skip


class _Run:
    """The steps of one upload in its pool, choosing per file between copy and send."""

    def __init__(
        self, sender: Sender, pool: ThreadPoolExecutor, meter: Meter, chooser: Chooser
    ) -> None:
        self.sender, self.pool, self.meter, self.chooser = sender, pool, meter, chooser
        self.sampled: set[str] = set()

    def sample(self, steps: list[Step], endpoint_url: str) -> list[Done]:
        """Calibrate this endpoint if it is worth it: send and copy some small files in
        batches, and keep the measured costs for every later choice."""
        candidates = [(e, s) for e, s in steps if s is not None and e.size <= SMALL_FILE]
        if not self.chooser.needs_sample(len(candidates)):
            return []
        picked = candidates[:: max(1, len(candidates) // (2 * SAMPLE))][: 2 * SAMPLE]
        self.sampled = {e.path for e, _ in picked}
        sends, copies = picked[1::2], picked[0::2]
        self.meter.grow(0, sum(e.size for e, _ in sends))
        half_s, half_c = len(sends) // 2, len(copies) // 2
        done: list[Done] = []
        seconds = {"copy": 0.0, "send": 0.0}
        for kind, batch in (("send", sends[:half_s]), ("copy", copies[:half_c]),
                            ("copy", copies[half_c:]), ("send", sends[half_s:])):  # fmt: skip
            started = time.perf_counter()
            done += run_parallel(
                self.pool, [self.sender.step(e, s if kind == "copy" else None) for e, s in batch]
            )
            seconds[kind] += time.perf_counter() - started
        if copies and sends:
            costs = Costs(seconds["copy"] / len(copies), seconds["send"] / len(sends),
                          max(e.size for e, _ in picked))  # fmt: skip
            calibration.remember(endpoint_url, costs)
            self.chooser = replace(self.chooser, costs=costs)
        return done

    def steps(self, steps: list[Step]) -> list[Done]:
        """Run ``steps``, choosing copy or send per file; by measured costs, in chunks
        that each correct the costs by what they took (see :mod:`calibration`)."""
        measured = self.chooser.choice == "measure" and self.chooser.costs is not None
        size = max(2 * SAMPLE, -(-len(steps) // calibration.CHUNKS)) if measured else len(steps)
        done: list[Done] = []
        for start in range(0, len(steps), max(size, 1)):
            chunk = steps[start : start + size]
            chosen = [
                (e, None if s is not None and self.chooser.sends(e.size) else s) for e, s in chunk
            ]
            resent = [e for (e, s), (_, c) in zip(chunk, chosen, strict=True)
                      if s is not None and c is None]  # fmt: skip
            self.meter.grow(0, sum(e.size for e in resent))
            started = time.perf_counter()
            done += run_parallel(self.pool, [self.sender.step(e, s) for e, s in chosen])
            costs = self.chooser.costs
            if measured and costs is not None:
                copies = sum(1 for _, c in chosen if c is not None)
                seconds = time.perf_counter() - started
                fixed = costs.corrected(copies, len(resent), len(chunk), seconds)
                self.chooser = replace(self.chooser, costs=fixed)
        return done
