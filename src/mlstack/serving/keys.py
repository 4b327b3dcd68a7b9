"""Endpoint keys: generated like Azure ML's, kept by the router only as sha256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field


def generate_key() -> str:
    """A new random key: 32 bytes from the OS, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """The sha256 hex digest of ``key``: what the routes file stores instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str, digests: Iterable[str]) -> bool:
    """Whether ``key`` is one of the keys behind ``digests``, in constant time per digest."""
    presented = key_digest(key).encode()
    # Compare against every digest, without stopping early, so timing reveals nothing.
    results = [hmac.compare_digest(presented, digest.encode()) for digest in digests]
    return any(results)


@dataclass(frozen=True)
class EndpointKeys:
    """An endpoint's primary and secondary key; ``repr`` never shows them."""

    primary: str = field(repr=False)
    secondary: str = field(repr=False)

    @classmethod
    def generate(cls) -> EndpointKeys:
        return cls(primary=generate_key(), secondary=generate_key())

    def digests(self) -> tuple[str, str]:
        """The digests to put in the routes file (primary first)."""
        return key_digest(self.primary), key_digest(self.secondary)
