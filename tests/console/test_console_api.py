"""The console's HTTP side on the real local stack: headers, the key, containers it may read, thumbnails
with ETags, pages of results, moves with collision-safe names and undo."""

from __future__ import annotations

import io
import json
import threading
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from PIL import Image

from shared.console import results as gallery
from shared.console.http import CONTENT_SECURITY_POLICY
from tests.robustness.conftest import Stack

DATA_ROUTES = [
    ("GET", "config"),
    ("GET", "results"),
    ("GET", "result?name=a.jpg"),
    ("GET", "thumb?area=images&name=a.jpg"),
    ("GET", "review"),
    ("GET", "training"),
    ("GET", "training/tag?tag=apple"),
    ("GET", "runs"),
    ("GET", "training/duplicates"),
    ("POST", "training/upload?tag=apple&name=a.jpg"),
    ("POST", "iteration/publish"),
    ("POST", "iteration/unpublish"),
    ("POST", "iteration/delete"),
    ("GET", "iteration/export?iteration=x"),
    ("POST", "iteration/quick?iteration=x"),
    ("POST", "review/assign"),
    ("POST", "review/discard"),
    ("POST", "result/label"),
    ("POST", "training/move"),
    ("POST", "training/delete"),
    ("POST", "undo"),
]


def api(stack: Stack, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    status, raw, out_headers = stack.http(method, f"api/console-api/{path}", data, headers, **kwargs)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    return status, parsed, out_headers


def photo(stack: Stack, tag: str = "apple") -> bytes:
    return sorted((stack.fruit / "training-images" / tag).glob("*.jpg"))[0].read_bytes()


def test_the_page_is_anonymous_and_carries_the_security_headers(console_stack: Stack):
    status, body, headers = console_stack.http("GET", "api/console/", key=None)
    assert status == 200
    page = body.decode()
    assert '<script type="module" src="app.js"></script>' in page
    assert "<script>" not in page and "style=" not in page  # nothing inline: the CSP forbids it
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    status, body, headers = console_stack.http("GET", "api/console/app.js", key=None)
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert b"x-functions-key" in console_stack.http("GET", "api/console/api.js", key=None)[1]


def test_the_bare_console_url_redirects_so_relative_links_work(console_stack: Stack):
    import urllib.request

    url = f"{console_stack.stack.devhost_url}/api/console"
    with urllib.request.urlopen(url) as response:  # follows the redirect
        assert response.url.endswith("/api/console/")
        assert b"Pipeline console" in response.read()


@pytest.mark.parametrize("path", ["../host.json", "..%2Fhost.json", "nothing.js", "static/app.js"])
def test_no_file_outside_the_console_is_served(console_stack: Stack, path: str):
    status, body, headers = console_stack.http("GET", f"api/console/{path}", key=None)
    assert status == 404
    assert b"extensionBundle" not in body
    assert headers.get("x-content-type-options") == "nosniff" or status == 404


@pytest.mark.parametrize(("method", "path"), DATA_ROUTES)
def test_no_data_call_succeeds_without_the_key_or_with_a_wrong_one(console_stack: Stack, method, path):
    body = {"name": "a.jpg", "tag": "apple"} if method == "POST" else None
    for key in (None, "not-the-key"):
        status, answer, _ = api(console_stack, method, path, body, key=key)
        assert status == 401, (key, answer)
        assert not answer


def test_every_api_answer_carries_the_security_headers_and_unknown_routes_say_so(console_stack: Stack):
    status, answer, headers = api(console_stack, "GET", "nowhere")
    assert status == 404
    assert answer["error"]["code"] == "UnknownRoute"
    assert "GET 'nowhere'" in answer["error"]["message"]
    status, answer, headers = api(console_stack, "GET", "config")
    assert status == 200
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert [t["name"] for t in answer["tags"]] == ["apple", "banana", "orange"]
    assert answer["negativeFolder"] == "_negative"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"area": "pipeline", "name": "sync/manifest.json"}, "BadArea"),
        ({"area": "results", "name": "a.jpg.json"}, "BadArea"),
        ({"area": "images", "name": "../pipeline/sync/manifest.json"}, "BadBlobName"),
        ({"area": "images", "name": "a/../../b.jpg"}, "BadBlobName"),
        ({"area": "images", "name": "/abs.jpg"}, "BadBlobName"),
        ({"area": "images", "name": "a.jpg", "size": "huge"}, "BadParameter"),
        ({"area": "images", "name": "never-uploaded.jpg"}, "BlobNotFound"),
    ],
)
def test_thumbnails_only_for_the_pipelines_image_containers(console_stack: Stack, query, code):
    status, answer, _ = api(console_stack, "GET", f"thumb?{urlencode(query)}")
    assert status in (400, 404)
    assert answer["error"]["code"] == code
    assert "Traceback" not in answer["error"]["message"]


def test_a_thumbnail_is_a_small_jpeg_cached_by_etag(console_stack: Stack):
    name = f"thumbs/{uuid.uuid4().hex[:8]}.jpg"
    data = photo(console_stack)
    console_stack.container("TRAINING_CONTAINER").upload_blob(f"apple/{name}", data)
    query = urlencode({"area": "training", "name": f"apple/{name}"})
    status, body, headers = console_stack.http("GET", f"api/console-api/thumb?{query}")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG" and max(image.size) <= 256
    assert len(body) < len(data)
    etag = headers["etag"]
    status, body, headers = console_stack.http(
        "GET", f"api/console-api/thumb?{query}", headers={"If-None-Match": etag}
    )
    assert status == 304 and body == b""
    assert headers["etag"] == etag
    # A new version of the image has a new preview.
    console_stack.container("TRAINING_CONTAINER").upload_blob(
        f"apple/{name}", photo(console_stack, "banana"), overwrite=True
    )
    status, _, headers = console_stack.http(
        "GET", f"api/console-api/thumb?{query}", headers={"If-None-Match": etag}
    )
    assert status == 200 and headers["etag"] != etag
    console_stack.container("TRAINING_CONTAINER").delete_blob(
        f"apple/{name}"
    )  # the retrain test counts uploads


def test_results_come_in_pages_of_at_most_fifty_with_a_continuation(console_stack: Stack):
    results = console_stack.container("RESULTS_CONTAINER")
    prefix = f"paging-{uuid.uuid4().hex[:6]}"
    document = {"schemaVersion": 1, "status": "ok", "predictions": [{"tagName": "apple", "probability": 0.7}]}
    for i in range(60):
        results.upload_blob(f"{prefix}/{i:03d}.jpg.json", json.dumps(document).encode())
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        status, page, _ = api(console_stack, "GET", f"results?{urlencode({'continuation': token})}")
        assert status == 200
        assert page["read"] <= 50 and len(page["items"]) <= 50
        seen += [item["name"] for item in page["items"]]
        pages += 1
        token = page["continuation"]
        if not token:
            break
    ours = [n for n in seen if n.startswith(prefix)]
    assert ours == [f"{prefix}/{i:03d}.jpg" for i in reversed(range(60))]  # newest first
    assert len(seen) == len(set(seen)) and pages >= 2
    status, page, _ = api(console_stack, "GET", "results?min=2")
    assert status == 400 and "'min'" in page["error"]["message"]


def test_assigning_a_review_image_never_overwrites_and_undo_restores_it(console_stack: Stack):
    name = f"2026/{uuid.uuid4().hex[:8]}.jpg"
    file = name.rsplit("/", 1)[1]
    training = console_stack.container("TRAINING_CONTAINER")
    review = console_stack.container("REVIEW_CONTAINER")
    training.upload_blob(f"banana/{file}", b"the one already there")
    review.upload_blob(name, photo(console_stack, "banana"))
    status, done, _ = api(console_stack, "POST", "review/assign", {"name": name, "tag": "BANANA"})
    assert status == 200, done
    stem = file.removesuffix(".jpg")
    assert done["moved"]["to"] == {"area": "training", "name": f"banana/{stem}-2.jpg"}
    assert training.download_blob(f"banana/{file}").readall() == b"the one already there"
    assert training.download_blob(f"banana/{stem}-2.jpg").readall() == photo(console_stack, "banana")
    assert not review.get_blob_client(name).exists()
    status, undone, _ = api(console_stack, "POST", "undo", {"undo": done["undo"]})
    assert status == 200, undone
    assert review.download_blob(name).readall() == photo(console_stack, "banana")
    assert not training.get_blob_client(f"banana/{stem}-2.jpg").exists()
    assert training.get_blob_client(f"banana/{file}").exists()
    training.delete_blob(f"banana/{file}")  # the retrain test counts uploads
    review.delete_blob(name)


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("review/assign", {"name": "x.jpg", "tag": "pear"}, 400, "BadTag"),
        ("review/assign", {"name": "x.jpg", "tag": "../apple"}, 400, "BadTag"),
        ("review/assign", {"name": "x/../y.jpg", "tag": "apple"}, 400, "BadBlobName"),
        ("review/assign", {"name": "gone.jpg", "tag": "apple"}, 404, "BlobNotFound"),
        ("review/assign", {"tag": "apple"}, 400, "MissingField"),
        ("review/assign", [1, 2], 400, "BadConsoleRequest"),
        (
            "undo",
            {"undo": {"kind": "move", "from": {"area": "pipeline", "name": "a"}, "to": {}}},
            400,
            "BadUndo",
        ),
        ("training/delete", {"name": "apple/never-there.jpg"}, 404, "BlobNotFound"),
    ],
)
def test_bad_requests_get_a_catalogue_message_and_change_nothing(
    console_stack: Stack, path, body, status, code
):
    got, answer, _ = api(console_stack, "POST", path, body)
    assert got == status, answer
    assert answer["error"]["code"] == code
    assert answer["error"]["message"] and "Error" not in answer["error"]["message"]


class CountingContainer:
    """A real ContainerClient that counts the documents read through it."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self.downloads = 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.container, name)

    def download_blob(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.downloads += 1
        return self.container.download_blob(*args, **kwargs)


def test_a_gallery_page_reads_at_most_fifty_documents_whatever_the_filter(console_stack: Stack):
    results = console_stack.container("RESULTS_CONTAINER")
    document = {
        "schemaVersion": 1,
        "status": "ok",
        "predictions": [{"tagName": "orange", "probability": 0.3}],
    }
    for i in range(55):
        results.upload_blob(f"reads-{i:03d}.jpg.json", json.dumps(document).encode(), overwrite=True)
    for params in ({}, {"status": "error"}, {"tag": "apple", "min": "0.99"}):
        counting = CountingContainer(results)
        page = gallery.page(counting, params)
        assert counting.downloads == page["read"] == 50, params
        assert page["continuation"]


def test_the_review_queue_puts_the_least_sure_first_and_discard_can_be_undone(console_stack: Stack):
    review = console_stack.container("REVIEW_CONTAINER")
    results = console_stack.container("RESULTS_CONTAINER")
    prefix = f"doubt-{uuid.uuid4().hex[:6]}"
    for p in (0.9, 0.4, 0.6):
        name = f"{prefix}/{p}.jpg"
        review.upload_blob(name, photo(console_stack))
        predictions = [{"tagName": "apple", "probability": p}, {"tagName": "banana", "probability": 1 - p}]
        results.upload_blob(f"{name}.json", json.dumps({"status": "ok", "predictions": predictions}).encode())
    status, queue, _ = api(console_stack, "GET", "review")
    assert status == 200
    ours = [item["name"] for item in queue["items"] if item["name"].startswith(prefix)]
    assert ours == [f"{prefix}/0.4.jpg", f"{prefix}/0.6.jpg", f"{prefix}/0.9.jpg"]
    first = next(item for item in queue["items"] if item["name"] == ours[0])
    assert first["predictions"][0] == {"tagName": "apple", "probability": 0.4}
    status, done, _ = api(console_stack, "POST", "review/discard", {"name": ours[0]})
    assert status == 200 and not review.get_blob_client(ours[0]).exists()
    assert ours[0] not in [i["name"] for i in api(console_stack, "GET", "review")[1]["items"]]
    status, _, _ = api(console_stack, "POST", "undo", {"undo": done["undo"]})
    assert status == 200
    assert review.download_blob(ours[0]).readall() == photo(console_stack)
    for name in ours:
        review.delete_blob(name)


def test_the_review_reason_shows_in_the_queue_and_filters_the_results(console_stack: Stack):
    review = console_stack.container("REVIEW_CONTAINER")
    results = console_stack.container("RESULTS_CONTAINER")
    prefix = f"reason-{uuid.uuid4().hex[:6]}"
    reasons = {"hesitant.jpg": "low_confidence", "wall.jpg": "unknown", "sure.jpg": None}
    for file, reason in reasons.items():
        name = f"{prefix}/{file}"
        document = {"status": "ok", "predictions": [{"tagName": "apple", "probability": 0.5}]}
        if reason:
            document["reviewReason"] = reason
            review.upload_blob(name, photo(console_stack))
        results.upload_blob(f"{name}.json", json.dumps(document).encode())
    status, queue, _ = api(console_stack, "GET", "review")
    assert status == 200
    shown = {i["name"]: i["reviewReason"] for i in queue["items"] if i["name"].startswith(prefix)}
    assert shown == {f"{prefix}/hesitant.jpg": "low_confidence", f"{prefix}/wall.jpg": "unknown"}
    for reason, expected in (("unknown", ["wall.jpg"]), ("low_confidence", ["hesitant.jpg"])):
        found: list[str] = []
        token = ""
        while True:  # other tests' documents share the container: read every page
            status, page, _ = api(
                console_stack, "GET", f"results?{urlencode({'reason': reason, 'continuation': token})}"
            )
            assert status == 200
            assert all(item["reviewReason"] == reason for item in page["items"])
            found += [item["name"] for item in page["items"] if item["name"].startswith(prefix)]
            token = page["continuation"]
            if not token:
                break
        assert found == [f"{prefix}/{file}" for file in expected]
    status, page, _ = api(console_stack, "GET", "results?reason=maybe")
    assert status == 400 and "'reason'" in page["error"]["message"] and "unknown" in page["error"]["message"]
    for file, reason in reasons.items():
        results.delete_blob(f"{prefix}/{file}.json")
        if reason:
            review.delete_blob(f"{prefix}/{file}")


@pytest.mark.parametrize("path", ["results", "review", "training/tag?tag=apple"])
def test_a_made_up_continuation_token_is_never_a_server_error(console_stack: Stack, path):
    """Azurite takes any marker (200); Azure Storage refuses a malformed one, which is answered 400."""
    separator = "&" if "?" in path else "?"
    status, answer, _ = api(console_stack, "GET", f"{path}{separator}continuation=not-a-token%21")
    assert status in (200, 400), answer  # Azurite may take any marker as a name to start after
    if status == 400:
        assert answer["error"]["code"] == "BadParameter" and "'continuation'" in answer["error"]["message"]


def test_a_blob_that_is_not_an_image_has_no_preview(console_stack: Stack):
    name = f"not-an-image-{uuid.uuid4().hex[:6]}.jpg"
    console_stack.container("REVIEW_CONTAINER").upload_blob(name, b"<svg onload=alert(1)>")
    status, answer, headers = api(
        console_stack, "GET", f"thumb?{urlencode({'area': 'review', 'name': name})}"
    )
    assert status == 422 and answer["error"]["code"] == "NotViewable"
    assert name in answer["error"]["message"]
    assert headers["content-type"].startswith("application/json")
    console_stack.container("REVIEW_CONTAINER").delete_blob(name)


def test_a_result_that_is_not_an_image_cannot_be_added_to_training(console_stack: Stack):
    name = f"not-an-image-{uuid.uuid4().hex[:6]}.jpg"
    console_stack.container("IMAGES_CONTAINER").upload_blob(name, b"%PDF-1.7 not a photo")
    training = console_stack.container("TRAINING_CONTAINER")
    status, answer, _ = api(console_stack, "POST", "result/label", {"name": name, "tag": "apple"})
    assert status == 422 and answer["error"]["code"] == "NotAnImage", answer
    assert "not an image" in answer["error"]["message"].lower()
    assert [b.name for b in training.list_blobs(name_starts_with="apple/not-an-image")] == []
    console_stack.container("IMAGES_CONTAINER").delete_blob(name)


def test_beyond_the_limit_the_gallery_follows_the_names_and_says_so(
    console_stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """Newest first needs every name and date in one listing call; a container with more documents than
    NEWEST_LIMIT (lowered here) is shown in name order, a page at a time."""
    results = console_stack.container("RESULTS_CONTAINER")
    newest = gallery.page(results, {})
    assert newest["order"] == "newest"
    monkeypatch.setattr(gallery, "NEWEST_LIMIT", 5)
    first = gallery.page(results, {})
    assert first["order"] == "name" and first["read"] == 50 and first["continuation"]
    names = [item["name"] for item in first["items"]]
    assert names == sorted(names)
    status, answer, _ = api(console_stack, "GET", "results?continuation=newest:50")
    assert status == 200 and answer["order"] == "newest"  # devhost's own process: the real limit
