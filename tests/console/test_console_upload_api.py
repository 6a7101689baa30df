"""Filling the training set through the console's API on the real local stack: uploads into a tag (a new
tag is a new folder), the pipeline's own image checks, safe names, duplicates by content refused and
named, and the list of photos stored twice."""

from __future__ import annotations

import io
import uuid
from urllib.parse import urlencode

from PIL import Image

from tests.console.test_console_api import api, photo
from tests.robustness.conftest import Stack


def upload(stack: Stack, tag: str, name: str, data: bytes) -> tuple[int, dict]:
    query = urlencode({"tag": tag, "name": name})
    status, raw, _ = stack.http(
        "POST", f"api/console-api/training/upload?{query}", data, {"Content-Type": "image/jpeg"}
    )
    import json

    return status, json.loads(raw)


def test_an_upload_lands_in_its_tag_folder_under_a_safe_name(console_stack: Stack):
    tag = f"kiwi {uuid.uuid4().hex[:4]}"
    training = console_stack.container("TRAINING_CONTAINER")
    data = photo(console_stack, "orange")
    status, answer = upload(console_stack, tag, "C:\\Users\\me\\Ma photo <1>.JPG", data)
    assert status == 200, answer
    assert answer["stored"] == {"area": "training", "name": f"{tag}/Ma-photo-1.jpg"}
    assert training.download_blob(f"{tag}/Ma-photo-1.jpg").readall() == data
    status, folders, _ = api(console_stack, "GET", "training")
    assert any(f["tag"] == tag and f["count"] == 1 for f in folders["tags"])
    training.delete_blob(f"{tag}/Ma-photo-1.jpg")


def test_the_same_photo_is_refused_and_the_copy_already_there_is_named(console_stack: Stack):
    training = console_stack.container("TRAINING_CONTAINER")
    banana = sorted((console_stack.fruit / "test-images").glob("*.jpg"))[1].read_bytes()
    tag = f"dup-{uuid.uuid4().hex[:4]}"
    status, first = upload(console_stack, tag, "first.jpg", banana)
    assert status == 200, first
    status, again = upload(console_stack, f"{tag}-other", "again.jpg", banana)
    assert status == 409
    assert again["error"]["code"] == "DuplicateImage"
    assert again["error"]["message"].startswith(f"again.jpg is the same photo as training/{tag}/first.jpg")
    assert not list(training.list_blobs(name_starts_with=f"{tag}-other/"))
    # a copy made another way (the review queue writes without Content-MD5: the service sets it)
    training.upload_blob(f"{tag}/copy.jpg", banana)
    status, found, _ = api(console_stack, "GET", "training/duplicates")
    assert status == 200
    assert [f"{tag}/copy.jpg", f"{tag}/first.jpg"] in found["groups"]
    for name in ("first.jpg", "copy.jpg"):
        training.delete_blob(f"{tag}/{name}")


def test_what_is_not_a_usable_image_is_refused_with_the_pipelines_message(console_stack: Stack):
    tag = f"bad-{uuid.uuid4().hex[:4]}"
    tiny = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(tiny, "PNG")
    cases = [
        (b"%PDF-1.4 not an image", 422, "NotAnImage", "not an image format that can be read"),
        (tiny.getvalue(), 422, "ImageTooSmall", "The image is 8x8 px"),
        (b"\xff\xd8" + b"0" * (21 * 1024 * 1024), 422, "ImageTooLarge", "(20 MB)"),
    ]
    for data, want, code, words in cases:
        status, answer = upload(console_stack, tag, "x.jpg", data)
        assert (status, answer["error"]["code"]) == (want, code), answer
        assert words in answer["error"]["message"]
    status, answer = upload(console_stack, "../apple", "x.jpg", photo(console_stack))
    assert status == 400 and "'tag'" in answer["error"]["message"]
    assert not list(console_stack.container("TRAINING_CONTAINER").list_blobs(name_starts_with=f"{tag}/"))
