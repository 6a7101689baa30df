"""Awkward and hostile files dropped into the images container of the running stack (devhost + the real
pipeline + localvision with a trained fruit model): each ends with exactly one document, a result or an
error with a clear code, and the good photos dropped beside them are still classified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from devstack.photos import fruit_root
from shared import catalogue
from tests.robustness.conftest import Stack
from tests.support.bad_inputs import BadInput, corpus

pytestmark = pytest.mark.slow  # each module starts the whole stack and trains a model
GOOD = {"IMG_TEST_1.jpg": "apple", "IMG_TEST_2.jpg": "banana", "IMG_TEST_3.jpg": "orange"}
# Cases made from the apple photo that keep its colours: the model must still see an apple.
APPLE_CASES = {
    "bad/cmyk.jpg", "bad/alpha.png", "bad/exif-rotated.jpg", "bad/animated.gif", "bad/photo.webp",
    "bad/photo.tiff", "bad/a name with spaces.jpg", "bad/ünïcödé-名前.jpg",
    "bad/deeply/nested/folder/photo.jpg",
}  # fmt: skip
EXIF_TOLERANCE = 0.05


def _good_photo() -> Path:
    return fruit_root() / "test-images" / "IMG_TEST_1.jpg"


CASES: list[BadInput] = corpus(_good_photo()) if _good_photo().exists() else []


@pytest.fixture(scope="module")
def stack(make_stack) -> Stack:
    return make_stack()


@pytest.fixture(scope="module")
def dropped(stack: Stack) -> dict[str, Any]:
    """Every corpus case and the three test photos uploaded together, then three more photos after the
    bad ones were handled; the ETags and documents of all of them."""
    etags: dict[str, str] = {}

    def upload(name: str, data: bytes) -> None:
        etags[name] = stack.images.get_blob_client(name).upload_blob(data)["etag"]

    for case in CASES:
        upload(case.name, case.make())
    test_images = stack.fruit / "test-images"
    for file in GOOD:
        upload(f"good/{file}", (test_images / file).read_bytes())
    documents = stack.wait_for_documents(list(etags), timeout=300)
    for file in GOOD:
        upload(f"after/{file}", (test_images / file).read_bytes())
    documents.update(stack.wait_for_documents([f"after/{f}" for f in GOOD], timeout=120))
    return {"etags": etags, "documents": documents}


def test_every_input_ends_with_exactly_one_document_for_its_version(stack: Stack, dropped) -> None:
    etags, documents = dropped["etags"], dropped["documents"]
    assert sorted(stack.document_names()) == sorted(f"{name}.json" for name in etags)
    for name, etag in etags.items():
        assert documents[name]["blob"]["name"] == name
        assert documents[name]["blob"]["etag"] == etag, name


@pytest.mark.parametrize("case", [c for c in CASES if c.expect == "error"], ids=lambda c: c.name)
def test_unusable_input_gets_an_error_document_with_a_clear_code(dropped, case: BadInput) -> None:
    document = dropped["documents"][case.name]
    assert document["status"] == "error", f"{case.why}: {document}"
    error = document["error"]
    assert error["code"] == case.code, error
    assert error["retryable"] is False
    assert catalogue.matches(error["code"], error["message"]), f"not the catalogue's message: {error}"
    assert "predictions" not in document and "model" not in document


@pytest.mark.parametrize("case", [c for c in CASES if c.expect == "ok"], ids=lambda c: c.name)
def test_readable_input_is_classified(dropped, case: BadInput) -> None:
    document = dropped["documents"][case.name]
    assert document["status"] == "ok", f"{case.why}: {document}"
    probabilities = [p["probability"] for p in document["predictions"]]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
    if case.name in APPLE_CASES:
        assert document["tags"][:1] == ["apple"], f"{case.why}: {document['predictions']}"


def test_exif_rotated_photo_is_classified_like_the_upright_one(dropped) -> None:
    upright = {
        p["tagName"]: p["probability"] for p in dropped["documents"]["good/IMG_TEST_1.jpg"]["predictions"]
    }
    rotated = {
        p["tagName"]: p["probability"] for p in dropped["documents"]["bad/exif-rotated.jpg"]["predictions"]
    }
    assert max(rotated, key=rotated.get) == max(upright, key=upright.get) == "apple"
    for tag, probability in upright.items():
        assert rotated[tag] == pytest.approx(probability, abs=EXIF_TOLERANCE), (tag, rotated, upright)


def test_exif_rotation_is_undone_before_classifying(stack: Stack, dropped) -> None:
    """The probabilities alone cannot show it (the fruit model also knows apples lying on their side), so
    the pipeline's log of what normalisation did is checked too."""
    assert "bad/exif-rotated.jpg: applied EXIF orientation 6" in stack.devhost_log()


def test_good_photos_beside_and_after_the_bad_ones_are_classified(stack: Stack, dropped) -> None:
    for folder in ("good", "after"):
        for file, tag in GOOD.items():
            document = dropped["documents"][f"{folder}/{file}"]
            assert document["status"] == "ok" and document["tags"] == [tag], document
    assert stack.stack.devhost is not None and stack.stack.devhost.process.poll() is None


def test_bad_inputs_are_not_retried_into_the_poison_queue(stack: Stack, dropped) -> None:
    queue = QueueClient.from_connection_string(stack.stack.conn_str, "webjobs-blobtrigger-poison")
    try:
        messages = queue.peek_messages(max_messages=32)
    except ResourceNotFoundError:
        messages = []
    assert messages == []
    assert "failed on images/" not in stack.devhost_log()
