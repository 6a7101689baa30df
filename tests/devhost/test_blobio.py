"""devhost's own blob calls (the trigger's download, the receipt) go around the SDK's operations: against real
Azurite, what they read and write must be exactly what the SDK's own calls read and write."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient, ContentSettings

from devhost import blobio

WRONG_KEY = base64.b64encode(b"not the account key").decode()


@pytest.fixture
def container(azurite_conn_str: str) -> ContainerClient:
    client = BlobServiceClient.from_connection_string(azurite_conn_str).get_container_client(
        f"blobio-{uuid.uuid4().hex[:12]}"
    )
    client.create_container()
    return client


def test_a_download_reads_the_content_properties_and_metadata_the_sdk_reports(container):
    content = b"\xff\xd8 a photo's bytes \x00\x01"
    blob = container.get_blob_client("in/photo one.jpg")
    blob.upload_blob(
        content,
        metadata={"Camera": "Pixel", "taken": "2026-12-04"},
        content_settings=ContentSettings(
            content_type="image/jpeg", content_encoding="identity", content_md5=hashlib.md5(content).digest()
        ),
    )
    sdk = blob.get_blob_properties()

    downloaded = blobio.download(blob, sdk.etag)

    assert downloaded.data == content
    assert downloaded.metadata == {"Camera": "Pixel", "taken": "2026-12-04"}
    assert downloaded.properties == {
        "ETag": sdk.etag,
        "Length": len(content),
        "ContentType": "image/jpeg",
        "ContentEncoding": "identity",
        "ContentMD5": hashlib.md5(content).hexdigest(),
        "LastModified": sdk.last_modified.isoformat(),
        "CreatedOn": sdk.creation_time.isoformat(),
        "BlobType": "BlockBlob",
    }


def sdk_refusal(blob: BlobClient, etag: str) -> type[Exception]:
    try:
        blob.download_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
    except (ResourceModifiedError, ResourceNotFoundError) as error:
        return type(error)
    raise AssertionError("the SDK downloaded a version that is not there")


def test_a_changed_or_deleted_blob_is_refused_as_the_sdk_refuses_it(container):
    blob = container.get_blob_client("photo.jpg")
    first = blob.upload_blob(b"first")["etag"]
    blob.upload_blob(b"second", overwrite=True)
    with pytest.raises(ResourceModifiedError):
        blobio.download(blob, first)
    blob.delete_blob()
    # Azurite answers a conditional read of a deleted blob with 412, as it answers the SDK
    with pytest.raises(sdk_refusal(blob, first)):
        blobio.download(blob, first)
    container.delete_container()
    assert sdk_refusal(blob, first) is ResourceNotFoundError  # no container: 404 whatever the condition
    with pytest.raises(ResourceNotFoundError):
        blobio.download(blob, first)


def test_another_refusal_keeps_its_status(container, azurite_conn_str):
    blob = container.get_blob_client("photo.jpg")
    etag = blob.upload_blob(b"x")["etag"]
    wrong = azurite_conn_str.replace(azurite_conn_str.split("AccountKey=")[1].split(";")[0], WRONG_KEY)
    stranger = BlobServiceClient.from_connection_string(wrong).get_blob_client(
        container.container_name, blob.blob_name
    )
    with pytest.raises(HttpResponseError) as refused:
        blobio.download(stranger, etag)
    assert refused.value.status_code == 403
    assert not isinstance(refused.value, ResourceNotFoundError | ResourceModifiedError)


def test_an_empty_blob_with_metadata_is_created_then_replaced(container):
    receipt = container.get_blob_client("blobreceipts/host/app.f/0x1/images/a.jpg")

    blobio.put_empty(receipt, {"Attempts": "1", "Outcome": "failed", "Incomplete": "true"})
    first = receipt.get_blob_properties()
    blobio.put_empty(receipt, {"Attempts": "2", "Outcome": "succeeded"})
    second = receipt.get_blob_properties()

    assert first.metadata == {"Attempts": "1", "Outcome": "failed", "Incomplete": "true"}
    assert second.metadata == {"Attempts": "2", "Outcome": "succeeded"}  # replaced, not merged
    assert second.size == 0 and receipt.download_blob().readall() == b""
    assert str(second.blob_type).endswith("BLOCKBLOB") and second.etag != first.etag


def test_an_empty_blob_in_a_missing_container_is_not_found(azurite_conn_str):
    missing = BlobServiceClient.from_connection_string(azurite_conn_str).get_blob_client("no-such-one", "r")
    with pytest.raises(ResourceNotFoundError):
        blobio.put_empty(missing, {"Attempts": "1"})
