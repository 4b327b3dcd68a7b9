"""What one upload did, in numbers a user (and an Azure bill) can read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlstack.content.blobstore import MIB
from mlstack.content.manifest import FileEntry
from mlstack.content.sender import Done


@dataclass(frozen=True)
class TransferReport:
    """What one upload did. Byte counts are file content; ``seconds`` is wall time.

    Every file of the version is in exactly one of uploaded, copied, patched or skipped.
    """

    uploaded_files: int
    """Files sent whole from the local disk (one Put Blob, or every block of a large one)."""
    uploaded_bytes: int
    copied_files: int
    """Files copied server-side from content the datastore already held."""
    copied_bytes: int
    skipped_files: int
    """Files already in place: a resumed transfer, or a version stored before."""
    skipped_bytes: int
    seconds: float
    patched_files: int = 0
    """Large files stored from an earlier blob's blocks plus their changed blocks."""
    patched_bytes: int = 0
    reused_bytes: int = 0
    """Of ``patched_bytes``, the bytes taken server-side from the earlier blobs' blocks."""
    sent_bytes: int = 0
    """Every content byte sent over the wire: uploaded files and the changed blocks."""
    resent_files: int = 0
    """Of the uploaded files, those that could have been copied but were measured cheaper
    to send (see :mod:`mlstack.content.calibration`)."""
    requests: int = 0
    """HTTP requests made (retries included): what the storage account bills."""
    requests_by_kind: tuple[tuple[str, int], ...] = ()
    """``requests`` by kind: put, block, blocklist, copy, get, list, other."""
    copy_ms: float | None = None
    send_ms: float | None = None
    """Wall time per file of each kind that chose between copying and sending (None: not
    measured; :mod:`mlstack.content.calibration`)."""

    @property
    def files(self) -> int:
        return self.uploaded_files + self.copied_files + self.patched_files + self.skipped_files

    def to_dict(self) -> dict[str, Any]:
        """Plain values with sorted keys (what a provider puts in its outputs)."""
        raw: dict[str, Any] = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name != "requests_by_kind"
        }
        raw["requests_by_kind"] = dict(self.requests_by_kind)
        raw["seconds"] = round(self.seconds, 3)
        return dict(sorted(raw.items()))

    def __str__(self) -> str:
        """One line: what moved, what it cost in requests, and how fast."""
        patched = (
            f", patched {self.patched_files} ({_mib(self.reused_bytes)} of "
            f"{_mib(self.patched_bytes)} reused by block)"
            if self.patched_files
            else ""
        )
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.requests_by_kind)
        seconds = max(self.seconds, 1e-9)
        moved = self.uploaded_files + self.copied_files + self.patched_files
        return (
            f"uploaded {self.uploaded_files} files ({_mib(self.uploaded_bytes)}), "
            f"copied {self.copied_files} ({_mib(self.copied_bytes)}){patched}, "
            f"reused {self.skipped_files} ({_mib(self.skipped_bytes)}); "
            f"{_mib(self.sent_bytes)} sent in {self.requests} requests"
            f"{f' ({kinds})' if kinds else ''} in {self.seconds:.1f} s "
            f"({moved / seconds:.0f} files/s, {self.sent_bytes / seconds / MIB:.1f} MiB/s sent)"
        )


def _mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


def build(
    *,
    seconds: float,
    done: Iterable[Done],
    skipped: Iterable[FileEntry],
    copyable: set[str],
    requests: Mapping[str, int],
    copy_ms: float | None = None,
    send_ms: float | None = None,
) -> TransferReport:
    """The report of a finished upload; ``copyable`` are the paths that had a copy source."""
    steps, skip = list(done), list(skipped)
    uploaded = [d for d in steps if d.kind == "uploaded"]
    copied = [d for d in steps if d.kind == "copied"]
    patched = [d for d in steps if d.kind == "patched"]
    return TransferReport(
        uploaded_files=len(uploaded),
        uploaded_bytes=sum(d.entry.size for d in uploaded),
        copied_files=len(copied),
        copied_bytes=sum(d.entry.size for d in copied),
        skipped_files=len(skip),
        skipped_bytes=sum(e.size for e in skip),
        seconds=seconds,
        patched_files=len(patched),
        patched_bytes=sum(d.entry.size for d in patched),
        reused_bytes=sum(d.reused for d in patched),
        sent_bytes=sum(d.sent for d in uploaded + patched),
        resent_files=sum(1 for d in uploaded if d.entry.path in copyable),
        requests=sum(requests.values()),
        requests_by_kind=tuple(sorted(requests.items())),
        copy_ms=copy_ms,
        send_ms=send_ms,
    )
