"""Faults on the running stack: a flaky Custom Vision (429 with Retry-After, 500, slow answers, dropped
connections), devhost killed mid-run and restarted, a retrain whose training fails, two retrains at once.
After each: every image has exactly one document for its version, none is lost or rewritten, the
published model still answers, and the logs or run records say what happened."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient

from devstack import photos, vision
from devstack.runs import TERMINAL
from shared import catalogue
from tests.robustness.conftest import PUBLISHED_NAME, Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # each module starts the whole stack and trains a model
FAULTS = "429:0.2,500:0.1,slow:0.1,drop:0.05"


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


def test_flaky_custom_vision_loses_and_duplicates_nothing(make_stack) -> None:
    stack = make_stack(
        ("--faults", FAULTS, "--fault-seed", "11", "--fault-slow-seconds", "2"),
        {"CUSTOMVISION_TIMEOUT_SECONDS": "1"},  # a slow answer (2 s) times out: a transient error
    )
    etags = drop_photos(stack, 40, "flaky-")
    stack.wait_for_documents(list(etags), timeout=300)
    documents = assert_one_document_per_version(stack, etags)

    for name, document in documents.items():
        if document["status"] == "error":  # allowed only as the poison path's retryable verdict
            assert document["error"]["code"] == "RetriesExhausted" and document["error"]["retryable"], name
    assert sum(d["status"] == "ok" for d in documents.values()) >= 36, "retries should absorb most faults"

    log = stack.devhost_log()
    assert "classify: Throttled; retry" in log
    assert "classify: ServiceError; retry" in log
    assert "classify: ServiceUnavailable; retry" in log, "timeouts and drops retried"
    assert re.search(r"Custom Vision unreachable: \w+", log), "the engineer's detail is in the log"
    throttled_delays = [float(d) for d in re.findall(r"classify: Throttled; retry \d+ in ([\d.]+) s", log)]
    assert throttled_delays and min(throttled_delays) >= 1.0, "Retry-After: 1 is honoured"


def restart_localvision(stack: Stack, *args: str) -> None:
    """The same localvision (data folder and port) again, with other options."""
    stack.stack.restart_localvision(*args)


def test_outage_ends_each_image_in_one_retryable_error_document(make_stack) -> None:
    """Custom Vision failing every call: the host's retries run out, the blob is poisoned, and the
    poison function writes one retryable error document; an upload after recovery is classified."""
    stack = make_stack(("--faults", "500:1.0"))
    etags = drop_photos(stack, 3, "outage-")
    stack.wait_for_documents(list(etags), timeout=180)
    documents = assert_one_document_per_version(stack, etags)
    for document in documents.values():
        assert document["status"] == "error"
        assert document["error"]["code"] == "RetriesExhausted" and document["error"]["retryable"] is True
        assert document["error"]["message"] == catalogue.text("RetriesExhausted")
    assert stack.devhost_log().count("moved to the poison queue") == 3

    restart_localvision(stack)
    name = next(iter(etags))
    data = stack.images.download_blob(name).readall()
    etags[name] = stack.images.get_blob_client(name).upload_blob(data, overwrite=True)["etag"]
    wait_until(lambda: stack.document(name)["blob"]["etag"] == etags[name], 120, "the re-uploaded photo")
    document = stack.document(name)
    assert document["status"] == "ok" and document["tags"]
    assert_one_document_per_version(stack, etags)


def test_devhost_killed_mid_run_and_restarted_finishes_every_image_once(make_stack) -> None:
    stack = make_stack()
    # Enough photos that the kill lands mid-run even when a loaded machine is slow to notice the first 20.
    etags = drop_photos(stack, 200, "kill-")
    wait_until(lambda: len(stack.document_names()) >= 20, 120, "the first 20 documents")
    assert stack.stack.devhost is not None
    stack.stack.devhost.kill()  # SIGKILL: no chance to finish what runs
    before = result_etags(stack)
    assert 20 <= len(before) < 200, "killed in the middle"

    stack.stack.restart_devhost()
    stack.wait_for_documents(list(etags), timeout=300)
    documents = assert_one_document_per_version(stack, etags)
    assert all(d["status"] == "ok" for d in documents.values())
    after = result_etags(stack)
    assert {name: after[name] for name in before} == before, (
        "a document written before the kill was rewritten"
    )
    # The host's own record: one complete receipt per photo version (blob name and ETag).
    receipts = stack.blobs.get_container_client("azure-webjobs-hosts")
    prefix = f"blobreceipts/{stack.stack.values['AzureFunctionsWebHost__hostid']}/Host.Functions.classify/"
    recorded = {}
    for item in receipts.list_blobs(name_starts_with=prefix, include=["metadata"]):
        etag, container, name = item.name[len(prefix) :].split("/", 2)
        recorded[(container, name, f'"{etag}"')] = item.metadata
    images = stack.stack.values["IMAGES_CONTAINER"]
    assert sorted(recorded) == sorted((images, name, etag) for name, etag in etags.items())
    assert all(metadata.get("Outcome") == "succeeded" for metadata in recorded.values())
    assert quick_classify(stack)["tags"] == ["apple"]


def test_failed_training_keeps_the_published_model(make_stack) -> None:
    stack = make_stack()
    published = published_iteration(stack)
    restart_localvision(stack, "--faults", "trainfail:1.0")  # now every training job fails
    upload_training(stack, more=True)

    status, body, _ = stack.http("POST", "api/retrain", b"")
    assert status == 202, body
    run = retrain_until_done(stack, json.loads(body)["runId"])

    assert run["status"] == "failed"
    assert run["error"]["code"] == "TrainingFailed" and run["error"]["message"]
    assert run["iteration"]["status"] == "Failed" and run["published"] is None
    assert published_iteration(stack) == published
    document = quick_classify(stack)
    assert document["tags"] == ["apple"] and document["model"]["iterationId"] == published


def test_two_retrain_requests_at_once_run_one_cycle(make_stack) -> None:
    stack = make_stack()
    old = published_iteration(stack)
    upload_training(stack, more=True)
    answers: list[tuple[int, dict[str, Any]]] = []
    barrier = threading.Barrier(2)

    def request() -> None:
        barrier.wait()
        status, body, _ = stack.http("POST", "api/retrain", b"")
        answers.append((status, json.loads(body)))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers) == [200, 202]
    assert answers[0][1]["runId"] == answers[1][1]["runId"]
    assert [body["started"] for _, body in sorted(answers, key=lambda a: a[0])] == [False, True]
    run = retrain_until_done(stack, answers[0][1]["runId"])
    assert run["status"] == "succeeded", run

    pipeline = stack.container("PIPELINE_CONTAINER")
    assert len([b.name for b in pipeline.list_blobs(name_starts_with="runs/")]) == 1
    iterations = trainer(stack).get_iterations(stack.project_id)
    assert len(iterations) == 2, "one cycle trained once"
    new = published_iteration(stack)
    assert new != old and run["published"]["iterationId"] == new
    assert quick_classify(stack, "IMG_TEST_3.jpg")["model"]["iterationId"] == new
