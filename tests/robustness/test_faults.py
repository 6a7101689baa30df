"""Faults of Custom Vision on the running stack: a flaky service (429 with Retry-After, 500, slow answers,
dropped connections), an outage, a training that fails. After each: every image has exactly one document
for its version, none is lost or rewritten, the published model still answers, and the logs or run records
say what happened."""

from __future__ import annotations

import json
import re

import pytest

from shared import catalogue
from tests.robustness.scenarios import (
    assert_one_document_per_version,
    drop_photos,
    published_iteration,
    quick_classify,
    restart_localvision,
    retrain_until_done,
    upload_training,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # each test starts the whole stack and trains a model
FAULTS = "429:0.2,500:0.1,slow:0.1,drop:0.05"


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
