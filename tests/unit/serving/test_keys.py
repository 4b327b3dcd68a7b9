"""Endpoint keys: random, compared by digest, never shown."""

from __future__ import annotations

import hashlib

from mlstack.serving import EndpointKeys, generate_key, key_digest, key_matches


def test_generated_keys_are_long_random_and_url_safe() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert len(key) == 43
        assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_digest_is_sha256_hex() -> None:
    assert key_digest("abc") == hashlib.sha256(b"abc").hexdigest()


def test_key_matches_either_digest_only() -> None:
    keys = EndpointKeys.generate()
    digests = keys.digests()
    assert key_matches(keys.primary, digests)
    assert key_matches(keys.secondary, digests)
    assert not key_matches(keys.primary + "x", digests)
    assert not key_matches(digests[0], digests)  # the digest itself is not a key
    assert not key_matches(keys.primary, [])


def test_repr_never_shows_the_keys() -> None:
    keys = EndpointKeys.generate()
    assert keys.primary not in repr(keys)
    assert keys.secondary not in str(keys)
