"""BlobEndpoint.client: the SDK transfer settings reach the client, with the SDK's defaults,
and the environment's proxy and CA settings are honoured."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.storage.blob import BlobServiceClient

from mlstack.content.blobstore import BlobEndpoint
from mlstack.content.transport import STREAM_CHUNK, transfer_client

ENDPOINT = BlobEndpoint("http://127.0.0.1:1/devstoreaccount1", "devstoreaccount1", "a2V5")
SIZES = ("max_single_put_size", "max_block_size", "max_single_get_size", "max_chunk_get_size")


def sizes(service: BlobServiceClient) -> dict[str, int]:
    # The SDK keeps these on its private configuration; reading it here is what lets
    # the source never touch it.
    return {name: getattr(service._config, name) for name in SIZES}


def test_defaults_are_the_sdks() -> None:
    with ENDPOINT.client() as ours, BlobServiceClient(ENDPOINT.url) as plain:
        assert sizes(ours) == sizes(plain)


def test_sizes_pass_through() -> None:
    wanted = dict(zip(SIZES, (1, 2, 3, 4), strict=True))
    with ENDPOINT.client(pool=2, retries=0, **wanted) as service:
        assert sizes(service) == wanted


def test_a_transfer_client_streams_in_bounded_chunks() -> None:
    with transfer_client(ENDPOINT, threads=4) as service:
        assert service._config.max_single_put_size == STREAM_CHUNK
        assert service._config.max_single_get_size == STREAM_CHUNK


def test_a_netrc_entry_for_the_host_does_not_replace_the_signature(
    endpoint: BlobEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would sign with the netrc's Basic auth instead of the account key.
    host = urlsplit(endpoint.url).hostname
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host} login someone password something\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with endpoint.client(retries=0) as service:
        assert service.get_service_properties() is not None


def test_proxy_settings_come_from_the_environment(
    endpoint: BlobEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with endpoint.client(retries=0) as service, pytest.raises(ServiceRequestError):
        service.get_service_properties()
    monkeypatch.setenv("NO_PROXY", urlsplit(endpoint.url).hostname or "")
    with endpoint.client(retries=0) as service:
        assert service.get_service_properties() is not None


def test_the_ca_bundle_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with ENDPOINT.client() as service:
        verify = service._config.transport.connection_config.verify
        assert verify == "/etc/ssl/certs/ca-certificates.crt"
