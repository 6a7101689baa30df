"""Restarts and races on the running stack: devhost killed mid-run and restarted, two retrain requests at
once. After each: every image has exactly one document for its version, no document is rewritten, and one
cycle trains once."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.robustness.scenarios import (
    assert_one_document_per_version,
    drop_photos,
    published_iteration,
    quick_classify,
    result_etags,
    retrain_until_done,
    trainer,
    upload_training,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # each test starts the whole stack and trains a model


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
