"""devhost's blob listing reads List Blobs responses without the SDK's parsing: against real Azurite it must
return exactly what ``list_blobs`` returns (names that need XML escaping, non-ASCII, several pages), and it
must decode the forms Azure uses that Azurite does not produce (``Encoded="true"`` names)."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

from devhost import listing

AWKWARD_NAMES = [
    "a&b<c>.jpg",
    "amp&amp;literally.jpg",
    "quotes\"'.jpg",
    "%41 not decoded.jpg",
    "with space.jpg",
    "tab\there.jpg",
    "ünïcødé/фрукт.jpg",
    "deep/er/path/x.png",
]


@pytest.fixture
def container(azurite_conn_str: str) -> ContainerClient:
    client = BlobServiceClient.from_connection_string(azurite_conn_str).get_container_client(
        f"listing-{uuid.uuid4().hex[:12]}"
    )
    client.create_container()
    for name in AWKWARD_NAMES:
        client.upload_blob(name, name.encode())
    return client


def sdk_listing(container: ContainerClient, prefix: str | None = None) -> list[tuple[str, str]]:
    return sorted((item.name, item.etag) for item in container.list_blobs(name_starts_with=prefix))


def test_the_listing_matches_the_sdks_over_several_pages(container, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)  # 8 blobs: three pages, two continuation markers
    pages: list[bytes] = []
    read_page = listing._page

    def counted(*args: object) -> bytes:
        pages.append(read_page(*args))  # type: ignore[arg-type]
        return pages[-1]

    monkeypatch.setattr(listing, "_page", counted)

    versions = list(listing.blob_versions(container))

    assert sorted(versions) == sdk_listing(container)
    assert sorted(name for name, _ in versions) == sorted(AWKWARD_NAMES)
    assert len(pages) == 3 and listing._use_fast
    assert all(etag.startswith("0x") for _, etag in versions)  # as the listing shows it, without quotes


def test_a_prefix_limits_the_listing(container):
    assert sorted(listing.blob_versions(container, "deep/")) == sdk_listing(container, "deep/")
    assert [name for name, _ in listing.blob_versions(container, "deep/")] == ["deep/er/path/x.png"]


def test_a_missing_container_raises_not_found(azurite_conn_str):
    missing = BlobServiceClient.from_connection_string(azurite_conn_str).get_container_client("no-such-one")
    with pytest.raises(ResourceNotFoundError):
        list(listing.blob_versions(missing))


def test_names_azure_sends_url_encoded_are_decoded():
    # Azure sends a name with characters XML cannot carry URL-encoded, flagged Encoded="true"
    # (List Blobs REST reference); Azurite never does, so this body is written out here.
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="images"><Blobs>'
        b'<Blob><Name Encoded="true">bell%07.jpg</Name><Properties><Etag>0x1</Etag></Properties></Blob>'
        b"<Blob><Name>plain &amp; simple.jpg</Name><Properties><Last-Modified>x</Last-Modified>"
        b"<Etag>0x2</Etag><Content-Length>3</Content-Length></Properties></Blob>"
        b"</Blobs><NextMarker>2!88!next&amp;more</NextMarker></EnumerationResults>"
    )
    assert list(listing.entries(body)) == [("bell\x07.jpg", "0x1"), ("plain & simple.jpg", "0x2")]
    assert listing.next_marker(body) == "2!88!next&more"
    last_page = body.replace(b"<NextMarker>2!88!next&amp;more</NextMarker>", b"<NextMarker />")
    assert listing.next_marker(last_page) is None
