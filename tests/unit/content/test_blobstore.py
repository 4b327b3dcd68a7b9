"""BlobEndpoint.client: the SDK transfer settings reach the client, with the SDK's defaults."""

from __future__ import annotations

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
