"""What the fault and restart tests do on a running stack: drop photos, check one document per version,
follow a retrain, ask the published model."""

from __future__ import annotations

import json
from typing import Any

from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient

from devstack import photos, vision
from devstack.runs import TERMINAL
from tests.robustness.conftest import PUBLISHED_NAME, Stack
from tests.support.waiting import wait_until


def drop_photos(stack: Stack, count: int, prefix: str) -> dict[str, str]:
    """Upload ``count`` distinct fruit photos; their names and ETags."""
    sources = photos.test_photos(stack.fruit) + photos.training(stack.fruit)
    uploaded = {}
    for photo in photos.copies(sources, count, prefix):
        uploaded[photo.name] = stack.images.get_blob_client(photo.name).upload_blob(photo.data)["etag"]
    return uploaded


def assert_one_document_per_version(stack: Stack, etags: dict[str, str]) -> dict[str, dict[str, Any]]:
    names = sorted(stack.document_names())
    assert names == sorted(f"{name}.json" for name in etags), "a document is missing or extra"
    documents = {name: stack.document(name) for name in etags}
    for name, etag in etags.items():
        assert documents[name]["blob"]["etag"] == etag, name
    return documents


def result_etags(stack: Stack) -> dict[str, str]:
    """The ETag of each result document blob: a rewrite would change it."""
    return {b.name: b.etag for b in stack.results.list_blobs()}


def retrain_until_done(stack: Stack, run_id: str, timeout: float = 180) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        status, body, _ = stack.http("GET", f"api/retrain/{run_id}")
        run = json.loads(body) if status == 200 else {}
        return run if run.get("status") in TERMINAL else None

    return wait_until(finished, timeout, f"retrain run {run_id}", every=0.5)


def trainer(stack: Stack) -> CustomVisionTrainingClient:
    return vision.trainer(stack.stack.endpoint)


def published_iteration(stack: Stack) -> str:
    iterations = trainer(stack).get_iterations(stack.project_id)
    return next(i.id for i in iterations if i.publish_name == PUBLISHED_NAME)


def quick_classify(stack: Stack, file: str = "IMG_TEST_1.jpg") -> dict[str, Any]:
    photo = (stack.fruit / "test-images" / file).read_bytes()
    status, body, _ = stack.http("POST", "api/classify", photo, {"Content-Type": "image/jpeg"})
    assert status == 200, body
    return json.loads(body)


def upload_training(stack: Stack, more: bool) -> None:
    training = stack.container("TRAINING_CONTAINER")
    chosen = photos.training(stack.fruit) + (photos.more_training(stack.fruit) if more else [])
    for photo in chosen:
        training.get_blob_client(photo.name).upload_blob(photo.data, overwrite=True)


def restart_localvision(stack: Stack, *args: str) -> None:
    """The same localvision (data folder and port) again, with other options."""
    stack.stack.restart_localvision(*args)
