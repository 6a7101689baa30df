"""The export step's parts that need no Custom Vision: downloading the service's link (a real local HTTP
server stands in for the SAS link) and storing the zip and current.json on real Azurite."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from shared import catalogue
from shared.errors import TransientError
from shared.onnx.pointer import POINTER_BLOB, Label, ModelPointer, store_model, zip_sha1
from shared.retrain import export
from tests.pipeline.conftest import unique
from tests.support.http_server import serving

BODY = b"PK\x03\x04 not really a zip, but bytes to fetch" * 1000


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/export.zip"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/export.zip?sig=abc")
            self.end_headers()
        else:
            self.send_response(403)  # an expired SAS link
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def link_server() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def test_the_download_link_is_fetched_without_a_key_following_a_redirect(link_server: str) -> None:
    assert export.download(f"{link_server}/export.zip?sv=2024&sig=x") == BODY
    assert export.download(f"{link_server}/moved") == BODY


@pytest.mark.parametrize(
    "uri", ["/expired", "file:///etc/passwd", "ftp://127.0.0.1/x.zip", "", None], ids=lambda u: str(u)[:12]
)
def test_a_link_that_does_not_give_the_zip_is_a_retryable_catalogue_error(link_server: str, uri) -> None:
    target = f"{link_server}{uri}" if isinstance(uri, str) and uri.startswith("/") else uri
    with pytest.raises(TransientError) as failed:
        export.download(target)
    assert failed.value.code == "ModelDownloadFailed"
    assert failed.value.message == catalogue.text("ModelDownloadFailed", limit="256 MB")


def test_a_download_over_the_limit_is_stopped(link_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "MAX_DOWNLOAD_BYTES", len(BODY) - 1)
    with pytest.raises(TransientError, match="could not be downloaded"):
        export.download(f"{link_server}/export.zip")


def test_store_model_writes_the_zip_then_current_json_and_repeats_safely(azurite_conn_str: str) -> None:
    container = BlobServiceClient.from_connection_string(azurite_conn_str).get_container_client(unique("ms"))
    first = ModelPointer(
        model_blob="models/one.zip",
        sha1=zip_sha1(b"one"),
        iteration_id="one",
        labels=[Label("apple", "id-a")],
    )
    store_model(container, b"one", first)
    store_model(container, b"one", first)  # a repeated step: same zip, same pointer
    assert container.download_blob("models/one.zip").readall() == b"one"
    pointer = json.loads(container.download_blob(POINTER_BLOB).readall())
    assert pointer == {
        "schemaVersion": 1,
        "modelBlob": "models/one.zip",
        "sha1": zip_sha1(b"one"),
        "iterationId": "one",
        "projectId": None,
        "publishedName": None,
        "labels": [{"tagName": "apple", "tagId": "id-a"}],
        "exportedAt": None,
    }
    # other content under the same name (a re-export) replaces it; the pointer follows the newest write
    second = ModelPointer(model_blob="models/one.zip", sha1=zip_sha1(b"two"), iteration_id="one")
    store_model(container, b"two", second)
    assert container.download_blob("models/one.zip").readall() == b"two"
    assert json.loads(container.download_blob(POINTER_BLOB).readall())["sha1"] == zip_sha1(b"two")
