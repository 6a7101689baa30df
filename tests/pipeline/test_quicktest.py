"""POST /api/classify (the quick test) against real Azurite and localvision, and the URL fetcher's guards
against a real local HTTP server."""

from __future__ import annotations

import http.server
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from PIL import Image

from shared import fetch
from tests.pipeline.conftest import base_settings, http_request, response_json, train_and_publish, unique
from tests.pipeline.contract_checks import check_reply
from tests.support.http_server import serving


@pytest.fixture(scope="module")
def project_name(localvision_endpoint: str, fruit_dir: Path) -> str:
    name = unique("Classify Fruit quick ")
    train_and_publish(localvision_endpoint, name, fruit_dir)
    return name


@pytest.fixture
def app(load_app, azurite_conn_str, localvision_endpoint, project_name):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("qt"))
    settings["CUSTOMVISION_PROJECT_NAME"] = project_name
    settings["QUICKTEST_MAX_BYTES"] = str(2 * 1024 * 1024)
    module = load_app(settings)
    module.test_settings = settings
    return module


def post(app, body: bytes, content_type: str = "application/octet-stream"):
    return app.classify_quick(http_request("POST", "classify", body, {"Content-Type": content_type}))


def test_image_bytes_are_classified_and_nothing_is_stored(app, fruit_dir, azurite_conn_str):
    data = (fruit_dir / "test-images" / "IMG_TEST_3.jpg").read_bytes()

    response = post(app, data, "image/jpeg")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc = response_json(response)
    assert doc["status"] == "ok" and doc["tags"] == ["orange"]
    assert doc["source"] == {"upload": True, "size": len(data)}
    assert "blob" not in doc
    service = BlobServiceClient.from_connection_string(azurite_conn_str)
    assert not service.get_container_client(app.test_settings["RESULTS_CONTAINER"]).exists()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BadJson"),
        (b'{"link": "https://example.com/a.jpg"}', "application/json", 400, "BadJson"),
        (b'["https://example.com/a.jpg"]', "application/json", 400, "BadJson"),
        (b'{"url": "http://127.0.0.1:10000/x.jpg"}', "application/json", 400, "UrlNotAllowed"),
        (b'{"url": "http://10.1.2.3/x.jpg"}', "application/json", 400, "UrlNotAllowed"),
        (b'{"url": "http://169.254.169.254/metadata"}', "application/json", 400, "UrlNotAllowed"),
        (b'{"url": "http://[::1]/x.jpg"}', "application/json", 400, "UrlNotAllowed"),
        (b'{"url": "http://localhost/x.jpg"}', "application/json", 400, "UrlNotAllowed"),
        (b'{"url": "file:///etc/passwd"}', "application/json", 400, "UrlNotAllowed"),
        (b'{"url": "ftp://example.com/a.jpg"}', "application/json", 400, "UrlNotAllowed"),
        (b"", "image/jpeg", 400, "EmptyBody"),
        (b"GIF89a-but-not-really", "image/gif", 422, "NotAnImage"),
        (b"x" * (2 * 1024 * 1024 + 1), "image/jpeg", 413, "ImageTooLarge"),
    ],
)
def test_bad_requests_get_a_clear_4xx(app, body, content_type, status, code):
    response = post(app, body, content_type)

    assert response.status_code == status
    doc = response_json(response)
    assert doc["error"]["code"] == code
    assert doc["error"]["message"]


def test_no_published_model_is_409(load_app, azurite_conn_str, localvision_endpoint, fruit_dir):
    from tests.pipeline.conftest import trainer

    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("qn"))
    settings["CUSTOMVISION_PROJECT_ID"] = trainer(localvision_endpoint).create_project(unique("Empty ")).id
    app = load_app(settings)

    response = post(app, (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes(), "image/jpeg")

    assert response.status_code == 409
    assert response_json(response)["error"]["code"] == "NoPublishedModel"


def test_quick_tests_beyond_their_own_rate_get_429_at_once(
    load_app, azurite_conn_str, localvision_endpoint, project_name, fruit_dir
):
    """QUICKTEST_MAX_TPS is the quick test's budget: a call whose turn is far off is refused at once, with
    when to come back, instead of waiting (or eating into the pipeline's PREDICTION_MAX_TPS)."""
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("qb"))
    settings["CUSTOMVISION_PROJECT_NAME"] = project_name
    settings["QUICKTEST_MAX_TPS"] = (
        "0.0499"  # a turn every ~20 s (a rate no other test uses: its own limiter)
    )
    app = load_app(settings)
    photo = (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes()

    first = post(app, photo, "image/jpeg")
    second = post(app, photo, "image/jpeg")

    assert first.status_code == 200 and response_json(first)["tags"] == ["banana"]
    assert second.status_code == 429
    assert 19 <= int(second.headers["Retry-After"]) <= 21
    error = response_json(second)["error"]
    assert error["code"] == "QuickTestBusy" and error["retryable"] is True
    assert "0.0499 times a second per instance (QUICKTEST_MAX_TPS)" in error["message"]
    assert f"try again in {second.headers['Retry-After']} s" in error["message"]


def test_the_route_accepts_post_only(app):
    functions = {f.get_function_name(): f for f in app.app.get_functions()}
    trigger = functions["classify_quick"].get_trigger()
    assert trigger.route == "classify"
    assert [str(m.value if hasattr(m, "value") else m) for m in trigger.methods] == ["POST"]


# --- the fetcher against a real local HTTP server (loopback allowed explicitly for the test) ----------


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(out, "PNG")
    return out.getvalue()


def test_fetch_follows_redirects_and_limits_size(server):
    image = _png()
    _Handler.routes = {
        "/img.png": (200, {"Content-Type": "image/png"}, image),
        "/moved": (302, {"Location": "/img.png"}, b""),
        "/big": (200, {}, b"x" * 5000),
        "/gone": (404, {}, b"no"),
    }
    allow_all = {"allow": lambda address: True, "max_bytes": 4096, "timeout": 5}

    assert fetch.fetch_image(f"{server}/moved", **allow_all) == image
    with pytest.raises(fetch.FetchError) as too_big:
        fetch.fetch_image(f"{server}/big", **allow_all)
    assert too_big.value.status == 413
    with pytest.raises(fetch.FetchError) as missing:
        fetch.fetch_image(f"{server}/gone", **allow_all)
    assert missing.value.status == 422 and "404" in missing.value.message


def test_fetch_refuses_a_redirect_to_a_private_address(server):
    _Handler.routes = {"/hop": (302, {"Location": "http://10.0.0.5/secret"}, b"")}
    allow_loopback_only = {"allow": lambda address: address == "127.0.0.1", "max_bytes": 4096, "timeout": 5}

    with pytest.raises(fetch.FetchError) as refused:
        fetch.fetch_image(f"{server}/hop", **allow_loopback_only)
    assert refused.value.code == "UrlNotAllowed"


def test_result_documents_are_json_with_no_keys(app, fruit_dir):
    response = post(app, (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes(), "image/jpeg")
    text = response.get_body().decode()
    assert check_reply(json.loads(text))["tags"] == ["apple"]
    assert app.test_settings["CUSTOMVISION_PREDICTION_KEY"] not in text
    assert app.test_settings["CUSTOMVISION_TRAINING_KEY"] not in text
