"""The routing table an endpoint router follows, and the file that carries it.

The provider owns the file and replaces it atomically (write a temporary file, then
rename); the router re-reads it whenever its identity (inode, mtime, size) changes. That
is how traffic moves between deployments without restarting anything.

Rules checked on load, as Azure ML checks them: every name in ``traffic`` and
``mirror_traffic`` is a known deployment; weights are integers 0-100; live traffic sums
to 100 (or 0 while no deployment takes traffic); mirror traffic sums to at most 50.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_REQUEST_TIMEOUT_MS = 60_000
MIRROR_LIMIT = 50

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Routes:
    """Where an endpoint's requests go: deployments, weights and the key digests."""

    endpoint: str
    keys_sha256: tuple[str, ...]
    deployments: dict[str, str]  # name -> base URL, e.g. http://127.0.0.1:8001
    traffic: dict[str, int] = field(default_factory=dict)
    mirror_traffic: dict[str, int] = field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError(
                f"invalid routes for endpoint {self.endpoint!r}: " + "; ".join(problems)
            )

    def problems(self) -> list[str]:
        """Every rule this table breaks (empty when valid)."""
        found: list[str] = []
        if not self.keys_sha256:
            found.append("keys_sha256 must list at least one key digest")
        for digest in self.keys_sha256:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                found.append("keys_sha256 entries must be sha256 hex digests, not keys")
                break
        for label, weights in (("traffic", self.traffic), ("mirror_traffic", self.mirror_traffic)):
            for name, weight in weights.items():
                if name not in self.deployments:
                    found.append(f"{label} names {name!r}, which is not a deployment")
                if (
                    isinstance(weight, bool)
                    or not isinstance(weight, int)
                    or not 0 <= weight <= 100
                ):
                    found.append(f"{label}[{name!r}] must be an integer 0-100; got {weight!r}")
        if not found:
            live = sum(self.traffic.values())
            if live not in (0, 100):
                found.append(f"traffic must sum to 100 (or 0); got {live}")
            mirrored = sum(self.mirror_traffic.values())
            if mirrored > MIRROR_LIMIT:
                found.append(f"mirror_traffic must sum to at most {MIRROR_LIMIT}; got {mirrored}")
        if self.max_body_bytes <= 0:
            found.append("max_body_bytes must be positive")
        if self.request_timeout_ms <= 0:
            found.append("request_timeout_ms must be positive")
        return found

    def pick(self, rng: random.Random, exclude: frozenset[str] = frozenset()) -> str | None:
        """A deployment by weighted random choice over live traffic, None if none takes any."""
        names = [n for n, w in self.traffic.items() if w > 0 and n not in exclude]
        if not names:
            return None
        return rng.choices(names, weights=[self.traffic[n] for n in names])[0]

    def mirrors(self, rng: random.Random) -> list[str]:
        """The deployments that get a copy of this request (each with its own probability)."""
        return [n for n, w in self.mirror_traffic.items() if w > 0 and rng.random() * 100 < w]

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "keys_sha256": list(self.keys_sha256),
            "deployments": dict(sorted(self.deployments.items())),
            "traffic": dict(sorted(self.traffic.items())),
            "mirror_traffic": dict(sorted(self.mirror_traffic.items())),
            "max_body_bytes": self.max_body_bytes,
            "request_timeout_ms": self.request_timeout_ms,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Routes:
        if not isinstance(raw, dict):
            raise ValueError("a routes file must hold a JSON object")
        try:
            return cls(
                endpoint=str(raw["endpoint"]),
                keys_sha256=tuple(str(d) for d in raw["keys_sha256"]),
                deployments={str(k): str(v) for k, v in raw.get("deployments", {}).items()},
                traffic=dict(raw.get("traffic") or {}),
                mirror_traffic=dict(raw.get("mirror_traffic") or {}),
                max_body_bytes=int(raw.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
                request_timeout_ms=int(raw.get("request_timeout_ms", DEFAULT_REQUEST_TIMEOUT_MS)),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"a routes file needs endpoint and keys_sha256: {error!r}") from None

    @classmethod
    def load(cls, path: Path) -> Routes:
        return cls.from_dict(json.loads(path.read_text()))

    def write(self, path: Path) -> None:
        """Replace ``path`` atomically, so a router never reads half a table."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))
        tmp.replace(path)


class RoutesFile:
    """A routes file, re-read whenever it changes; a bad rewrite keeps the last good table."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity = self._stat()
        self._routes = Routes.load(path)  # a bad file at start is fatal: fail loudly

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def current(self) -> Routes:
        """The table as of now; one ``stat`` call when nothing changed."""
        identity = self._stat()
        if identity is not None and identity != self._identity:
            self._identity = identity
            try:
                self._routes = Routes.load(self.path)
                log.info("routes reloaded from %s", self.path)
            except (OSError, ValueError) as error:
                log.error("kept the previous routes: %s is invalid: %s", self.path, error)
        return self._routes
