"""Bad requests to the HTTP functions through devhost get clear 4xx answers and change nothing."""

from __future__ import annotations

import http.client
import json

import pytest

from devstack.vision import FUNCTION_KEY
from shared import catalogue
from tests.robustness.conftest import Stack

pytestmark = pytest.mark.slow  # each module starts the whole stack and trains a model
QUICKTEST_LIMIT = 5 * 1024 * 1024
BODY_LIMIT = 8 * 1024 * 1024  # devhost's request body limit (the host's FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)


@pytest.fixture(scope="module")
def stack(make_stack) -> Stack:
    return make_stack(settings={"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(BODY_LIMIT)})


def error_of(body: bytes) -> dict:
    return json.loads(body)["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "api/classify"),
        ("POST", "api/retrain"),
        ("GET", "api/retrain"),
        ("POST", "api/training/import"),
    ],
)
def test_no_key_or_a_wrong_key_is_refused(stack: Stack, method: str, path: str) -> None:
    assert stack.http(method, path, b"" if method == "POST" else None, key=None)[0] == 401
    assert stack.http(method, path, b"" if method == "POST" else None, key="not-the-key")[0] == 401


def test_the_key_is_accepted_in_the_query_string_too(stack: Stack) -> None:
    status, body, _ = stack.http("GET", f"api/retrain?code={FUNCTION_KEY}", key=None)
    assert status == 200 and "runs" in json.loads(body)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "api/classify", "POST"),
        ("PUT", "api/retrain", "GET, POST"),
        ("DELETE", "api/retrain/x", "GET"),
    ],
)
def test_wrong_method_is_405_with_the_allowed_ones(stack: Stack, method: str, path: str, allow: str) -> None:
    status, _, headers = stack.http(method, path, None)
    assert status == 405
    assert headers.get("allow") == allow


def test_unknown_route_is_404(stack: Stack) -> None:
    assert stack.http("GET", "api/no-such-function")[0] == 404


def test_unknown_run_is_404_naming_how_to_list_runs(stack: Stack) -> None:
    status, body, _ = stack.http("GET", "api/retrain/20260101T000000000Z-deadbeef")
    assert status == 404
    assert error_of(body) == {"code": "RunNotFound", "message": catalogue.text("RunNotFound")}
    assert "GET /api/retrain" in error_of(body)["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "BadJson"),
        (b'["a list"]', "BadJson"),
        (b'{"link": "https://example.com/a.jpg"}', "BadJson"),
        (b'{"url": 42}', "BadJson"),
        (b"[" * 1000 + b"]" * 1000, "BadJson"),  # nested deeper than the parser goes
        (b'{"url": ' * 5000 + b'"x"' + b"}" * 5000, "BadJson"),
        (b"\xff\xfe\x00{", "BadJson"),  # not UTF-8 text
    ],
    ids=["broken", "list", "no-url", "url-not-a-string", "1000-deep", "5000-deep-objects", "not-text"],
)
def test_bad_json_is_400_saying_what_to_send(stack: Stack, body: bytes, code: str) -> None:
    status, answer, _ = stack.http("POST", "api/classify", body, {"Content-Type": "application/json"})
    assert status == 400
    assert error_of(answer) == {"code": code, "message": catalogue.text(code)}


def test_empty_body_is_400(stack: Stack) -> None:
    status, answer, _ = stack.http("POST", "api/classify", b"", {"Content-Type": "image/jpeg"})
    assert status == 400 and error_of(answer)["code"] == "EmptyBody"


def test_bytes_that_are_not_an_image_are_422(stack: Stack) -> None:
    status, answer, _ = stack.http("POST", "api/classify", b"hello" * 100, {"Content-Type": "image/jpeg"})
    assert status == 422
    document = json.loads(answer)
    assert document["status"] == "error" and document["error"]["code"] == "NotAnImage"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{azurite}/devstoreaccount1/images/x.jpg",
        "http://localhost:{azurite}/",
        "http://10.1.2.3/photo.jpg",
        "http://192.168.0.1/photo.jpg",
        "http://169.254.169.254/metadata/instance",
        "http://[::1]:{azurite}/",
        "http://0.0.0.0:{azurite}/",
        "file:///etc/passwd",
        "ftp://example.com/a.jpg",
        "http://user:secret@example.com/a.jpg",
    ],
)
def test_url_to_a_private_address_or_another_scheme_is_refused(stack: Stack, url: str) -> None:
    url = url.format(azurite=stack.stack.azurite.ports["blob"])
    body = json.dumps({"url": url}).encode()
    status, answer, _ = stack.http("POST", "api/classify", body, {"Content-Type": "application/json"})
    assert status == 400, answer
    assert error_of(answer)["code"] == "UrlNotAllowed"
    assert "secret" not in answer.decode()


def test_body_over_the_quick_test_limit_is_413(stack: Stack) -> None:
    status, answer, _ = stack.http(
        "POST", "api/classify", b"\xff" * (QUICKTEST_LIMIT + 1), {"Content-Type": "image/jpeg"}
    )
    assert status == 413
    assert (
        error_of(answer)["code"] == "ImageTooLarge" and "QUICKTEST_MAX_BYTES" in error_of(answer)["message"]
    )


def test_body_over_the_host_limit_is_413_before_it_is_read(stack: Stack) -> None:
    """Only the headers are sent: the host answers from Content-Length, without waiting for the body."""
    assert stack.stack.devhost is not None
    connection = http.client.HTTPConnection("127.0.0.1", stack.stack.devhost.ports["http"], timeout=30)
    try:
        connection.putrequest("POST", "/api/classify")
        connection.putheader("x-functions-key", FUNCTION_KEY)
        connection.putheader("Content-Type", "image/jpeg")
        connection.putheader("Content-Length", str(BODY_LIMIT + 1))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert str(BODY_LIMIT) in response.read().decode()
    finally:
        connection.close()


def test_the_stack_still_classifies_after_the_bad_requests(stack: Stack) -> None:
    photo = (stack.fruit / "test-images" / "IMG_TEST_2.jpg").read_bytes()
    status, answer, _ = stack.http("POST", "api/classify", photo, {"Content-Type": "image/jpeg"})
    assert status == 200 and json.loads(answer)["tags"] == ["banana"]
    assert stack.document_names() == [], "the quick test stores nothing"
