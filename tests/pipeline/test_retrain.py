"""The retrain cycle against real Azurite and a real localvision, driven through the functions:
POST /api/retrain -> queue -> retrain_worker (played by run_worker) -> run record -> GET /api/retrain/{id}."""

from __future__ import annotations

import io
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceModifiedError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy
from PIL import Image

from shared import catalogue
from shared.runs.record import Status, Step, Trigger
from shared.runs.store import new_record
from tests.pipeline.conftest import (
    FOOD_DOMAIN,
    base_settings,
    blob_input,
    containers,
    http_request,
    read_document,
    response_json,
    run_worker,
    trainer,
    unique,
    upload_folder,
)
from tests.pipeline.contract_checks import check_run

pytestmark = pytest.mark.slow


def start(app) -> tuple[int, dict]:
    response = app.retrain(http_request("POST", "retrain"))
    return response.status_code, response_json(response)


def status(app, run_id: str) -> dict:
    response = app.retrain_status(http_request("GET", f"retrain/{run_id}", route_params={"runId": run_id}))
    assert response.status_code == 200
    return response_json(response)


def finished(app, run_id: str):
    return lambda: status(app, run_id)["status"] in ("succeeded", "rejected", "skipped", "failed")


def cycle(app, conn_str: str, settings: dict) -> dict:
    code, body = start(app)
    assert code == 202, body
    run_worker(app, conn_str, settings["RETRAIN_QUEUE"], finished(app, body["runId"]))
    return status(app, body["runId"])


def published_iteration(endpoint: str, project_id: str, name: str = "fruit-classifier"):
    found = [i for i in trainer(endpoint).get_iterations(project_id) if i.publish_name == name]
    assert len(found) <= 1
    return found[0] if found else None


def test_fruit_flow_bootstrap_train_publish_classify_and_incremental_sync(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir: Path
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("ff"))
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    assert upload_folder(stores["training"], fruit_dir / "training-images") == 45

    code, body = start(app)
    assert code == 202
    assert body["started"] is True and body["status"] == "queued"
    assert body["statusUrl"] == f"http://localhost:7071/api/retrain/{body['runId']}"
    run_worker(app, azurite_conn_str, settings["RETRAIN_QUEUE"], finished(app, body["runId"]))
    run = status(app, body["runId"])

    assert run["status"] == "succeeded", run
    assert run["trigger"] == "http" and run["step"] == "done" and run["error"] is None
    assert run["sync"]["listed"] == 45 and run["sync"]["uploaded"] == 45
    assert run["sync"]["duplicates"] == 0 and run["sync"]["failed"] == 0
    assert sorted(run["sync"]["tagsCreated"]) == ["apple", "banana", "orange"]
    assert run["iteration"]["status"] == "Completed"
    for metric in ("precision", "recall", "averagePrecision"):
        assert run["metrics"][metric] >= 0.8
    assert run["metrics"]["threshold"] == 0.5
    assert run["gate"]["passed"] is True and run["gate"]["reasons"] == []
    assert run["published"]["iterationId"] == run["iteration"]["id"]
    assert set(run["timings"]) == {"sync", "train", "poll", "evaluate", "publish", "prune"}
    # the project was created like the exercise's: by name, Multiclass, Food domain
    project = trainer(localvision_endpoint).get_project(run["projectId"])
    assert project.name == settings["CUSTOMVISION_PROJECT_NAME"]
    assert project.settings.domain_id == FOOD_DOMAIN
    assert project.settings.classification_type == "Multiclass"
    assert published_iteration(localvision_endpoint, run["projectId"]).id == run["iteration"]["id"]

    # the three test photos are classified right by the blob trigger
    for file, fruit in (
        ("IMG_TEST_1.jpg", "apple"),
        ("IMG_TEST_2.jpg", "banana"),
        ("IMG_TEST_3.jpg", "orange"),
    ):
        stores["images"].upload_blob(file, (fruit_dir / "test-images" / file).read_bytes())
        app.classify(blob_input(stores["images"], file))
        doc = read_document(stores["results"], f"{file}.json")
        assert doc["tags"] == [fruit], doc
        assert doc["model"]["iterationId"] == run["iteration"]["id"]

    # nothing new: the next cycle trains nothing and says so
    iterations_before = len(trainer(localvision_endpoint).get_iterations(run["projectId"]))
    second = cycle(app, azurite_conn_str, settings)
    assert second["status"] == "skipped"
    assert "no new" in second["reason"].lower()
    assert second["sync"]["uploaded"] == 0 and second["sync"]["unchanged"] == 45
    assert second["iteration"] is None
    assert len(trainer(localvision_endpoint).get_iterations(run["projectId"])) == iterations_before

    # six more photos: exactly six go up, a new iteration is published, the old one unpublished
    assert upload_folder(stores["training"], fruit_dir / "more-training-images") == 6
    third = cycle(app, azurite_conn_str, settings)
    assert third["status"] == "succeeded", third
    assert (
        third["sync"]["uploaded"] == 6 and third["sync"]["unchanged"] == 45 and third["sync"]["listed"] == 51
    )
    assert third["sync"]["tagsCreated"] == []
    assert third["published"]["replaced"] == run["iteration"]["id"]
    assert third["previous"]["iterationId"] == run["iteration"]["id"]
    assert published_iteration(localvision_endpoint, run["projectId"]).id == third["iteration"]["id"]
    old = trainer(localvision_endpoint).get_iteration(run["projectId"], run["iteration"]["id"])
    assert not old.publish_name

    # GET /api/retrain lists the runs, newest first
    listed = response_json(app.retrain(http_request("GET", "retrain")))["runs"]
    assert [r["runId"] for r in listed] == [third["runId"], second["runId"], run["runId"]]


def noisy_copies(source: Path, count: int) -> list[bytes]:
    """Distinct re-encodings of photos (so they are not duplicates), to be filed under a wrong tag."""
    out = []
    for index, path in enumerate(sorted(source.glob("*.jpg"))[:count]):
        image = Image.open(path).rotate(3 + index, expand=False)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


def test_a_failed_gate_keeps_the_old_iteration_published(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("gf"))
    settings["KEEP_ITERATIONS"] = "1"
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images")
    first = cycle(app, azurite_conn_str, settings)
    assert first["status"] == "succeeded", first

    # banana photos filed as apples make the next iteration worse; the gate demands perfection
    for index, data in enumerate(noisy_copies(fruit_dir / "training-images" / "banana", 6)):
        stores["training"].upload_blob(f"apple/noisy-{index}.jpg", data)
    settings.update(GATE_MIN_PRECISION="1.0", GATE_MIN_RECALL="1.0", GATE_MIN_AP="1.0", GATE_TOLERANCE="0")
    app = load_app(settings)
    second = cycle(app, azurite_conn_str, settings)

    assert second["status"] == "rejected", second
    assert second["gate"]["passed"] is False and second["gate"]["reasons"]
    assert "GATE_MIN" in second["reason"] and "stays" in second["reason"]
    assert second["published"] is None
    assert second["previous"]["iterationId"] == first["iteration"]["id"]
    assert published_iteration(localvision_endpoint, first["projectId"]).id == first["iteration"]["id"]
    # KEEP_ITERATIONS=1 prunes nothing that matters: neither the published one nor the new one
    ids = {i.id for i in trainer(localvision_endpoint).get_iterations(first["projectId"])}
    assert {first["iteration"]["id"], second["iteration"]["id"]} <= ids

    stores["images"].upload_blob("t.jpg", (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes())
    app.classify(blob_input(stores["images"], "t.jpg"))
    doc = read_document(stores["results"], "t.jpg.json")
    assert doc["model"]["iterationId"] == first["iteration"]["id"] and doc["tags"] == ["banana"]


def test_a_training_that_fails_fails_the_run_with_the_reason(
    load_app, azurite_conn_str, extra_localvision, fruit_dir
):
    endpoint = extra_localvision("--faults", "trainfail:1.0")
    settings = base_settings(azurite_conn_str, endpoint, unique("tr"))
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images")

    run = cycle(app, azurite_conn_str, settings)

    assert run["status"] == "failed"
    assert run["error"]["code"] == "TrainingFailed" and run["error"]["message"]
    assert run["iteration"]["status"] == "Failed"
    assert published_iteration(endpoint, run["projectId"]) is None
    # the images stay marked as not yet trained: the timer will try again
    assert app.pipeline.retrainer.has_new_training() is True


def test_concurrent_requests_start_one_cycle(load_app, azurite_conn_str, localvision_endpoint):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("cc"))
    app = load_app(settings)
    containers(azurite_conn_str, settings)
    barrier = threading.Barrier(6)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def request() -> None:
        barrier.wait()
        answer = start(app)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    codes = sorted(code for code, _ in answers)
    assert codes == [200, 200, 200, 200, 200, 202]
    assert len({body["runId"] for _, body in answers}) == 1
    assert [body["started"] for code, body in answers if code == 200] == [False] * 5
    queue = QueueClient.from_connection_string(azurite_conn_str, settings["RETRAIN_QUEUE"])
    assert queue.get_queue_properties().approximate_message_count == 1


def test_a_stale_run_no_longer_blocks_and_is_marked_abandoned(
    load_app, azurite_conn_str, localvision_endpoint
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("st"))
    settings["RETRAIN_STALE_MINUTES"] = "5"
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    old_id = f"{datetime.now(UTC) - timedelta(hours=1):%Y%m%dT%H%M%S}000Z-{uuid.uuid4().hex[:8]}"
    long_ago = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = new_record(old_id, Trigger.HTTP)
    record.status, record.step, record.updated_at = Status.RUNNING, Step.POLL, long_ago
    stores["pipeline"].upload_blob(f"runs/{old_id}.json", json.dumps(record.as_json()))
    stores["pipeline"].upload_blob("active-run.json", json.dumps({"runId": old_id, "createdAt": long_ago}))

    code, body = start(app)

    assert code == 202 and body["runId"] != old_id
    old = status(app, old_id)
    assert old["status"] == "failed" and old["step"] == "done" and old["error"]["code"] == "Abandoned"


def test_a_running_cycle_is_returned_not_duplicated(load_app, azurite_conn_str, localvision_endpoint):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("rr"))
    app = load_app(settings)
    containers(azurite_conn_str, settings)
    first_code, first = start(app)
    second_code, second = start(app)
    assert (first_code, second_code) == (202, 200)
    assert second["runId"] == first["runId"] and second["statusUrl"] == first["statusUrl"]


def test_scheduled_retrain_starts_only_when_there_is_something_new(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir
):
    import azure.functions as func

    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("sc"))
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)

    app.retrain_scheduled(func.timer.TimerRequest(past_due=False))
    assert response_json(app.retrain(http_request("GET", "retrain")))["runs"] == []

    upload_folder(stores["training"], fruit_dir / "training-images" / "apple", prefix="apple/")
    app.retrain_scheduled(func.timer.TimerRequest(past_due=False))
    runs = response_json(app.retrain(http_request("GET", "retrain")))["runs"]
    assert len(runs) == 1 and runs[0]["trigger"] == "timer" and runs[0]["status"] == "queued"


def test_a_missing_project_id_fails_the_run_naming_the_setting(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("mp"))
    settings["CUSTOMVISION_PROJECT_ID"] = str(uuid.uuid4())
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images" / "apple", prefix="apple/")

    run = cycle(app, azurite_conn_str, settings)

    assert run["status"] == "failed"
    assert run["error"]["code"] == "ProjectNotFound" and "CUSTOMVISION_PROJECT_ID" in run["error"]["message"]


def test_too_few_images_fail_the_run_with_the_services_reason(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("fw"))
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images" / "apple", prefix="apple/")

    run = cycle(app, azurite_conn_str, settings)

    assert run["status"] == "failed"
    assert run["error"]["code"] == "CustomVisionRefused" and run["sync"]["uploaded"] == 15
    assert "BadRequest" in run["error"]["message"]  # the service's code, through the catalogue's placeholder


def test_unknown_run_id_is_404(load_app, azurite_conn_str, localvision_endpoint):
    app = load_app(base_settings(azurite_conn_str, localvision_endpoint, unique("nf")))
    response = app.retrain_status(http_request("GET", "retrain/x", route_params={"runId": "../../etc"}))
    assert response.status_code == 404
    assert response_json(response)["error"]["code"] == "RunNotFound"


def test_a_crash_after_training_started_resumes_without_training_twice(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("cr"))
    settings["RETRAIN_POLL_SECONDS"] = "2"
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images")
    _, body = start(app)
    run_id = body["runId"]
    run_worker(
        app, azurite_conn_str, settings["RETRAIN_QUEUE"], lambda: status(app, run_id)["step"] == "poll"
    )

    # the worker "crashed" after train_project and before the iteration id was checkpointed
    record = check_run(json.loads(stores["pipeline"].download_blob(f"runs/{run_id}.json").readall()))
    assert record["knownIterations"] == [] and record["iteration"] is not None
    record.update(step="train", iteration=None)
    stores["pipeline"].upload_blob(f"runs/{run_id}.json", json.dumps(record), overwrite=True)
    # ... and a duplicate of the current message is delivered as well
    queue = QueueClient.from_connection_string(
        azurite_conn_str, settings["RETRAIN_QUEUE"], message_encode_policy=TextBase64EncodePolicy()
    )
    queue.send_message(json.dumps({"runId": run_id, "seq": record["seq"]}))

    run_worker(app, azurite_conn_str, settings["RETRAIN_QUEUE"], finished(app, run_id))

    run = status(app, run_id)
    assert run["status"] == "succeeded", run
    iterations = trainer(localvision_endpoint).get_iterations(run["projectId"])
    assert [i.id for i in iterations] == [run["iteration"]["id"]]  # adopted, not trained again


def test_sync_reports_unusable_and_misplaced_training_blobs_once(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("sy"))
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images")
    stores["training"].upload_blob("README.txt", b"labelled images go in {tag}/ folders")
    stores["training"].upload_blob("apple/notes.txt", b"not an image")

    first = cycle(app, azurite_conn_str, settings)
    assert first["status"] == "succeeded", first
    assert first["sync"]["uploaded"] == 45 and first["sync"]["ignored"] == 1 and first["sync"]["failed"] == 1
    assert first["sync"]["failures"] == [
        {"blob": "apple/notes.txt", "code": "NotAnImage", "message": catalogue.text("NotAnImage")}
    ]

    second = cycle(app, azurite_conn_str, settings)
    assert second["status"] == "skipped"
    assert second["sync"]["uploaded"] == 0 and second["sync"]["failed"] == 0  # not retried until it changes


def test_the_record_is_saved_before_its_message_and_stale_messages_are_dropped(
    load_app, azurite_conn_str, localvision_endpoint
):
    """Every message on the queue carries the number its record already holds; a message with another
    number (a duplicate or a forgery) changes nothing."""
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("seq"))
    app = load_app(settings)
    containers(azurite_conn_str, settings)
    run_id = start(app)[1]["runId"]
    queue = QueueClient.from_connection_string(
        azurite_conn_str, settings["RETRAIN_QUEUE"], message_decode_policy=TextBase64DecodePolicy()
    )
    (message,) = queue.peek_messages(max_messages=5)
    assert (
        json.loads(message.content)
        == {"runId": run_id, "seq": status(app, run_id)["seq"]}
        == {
            "runId": run_id,
            "seq": 1,
        }
    )
    retrainer = app.pipeline.retrainer
    for seq in (0, 2, "1"):
        retrainer.handle({"runId": run_id, "seq": seq})
    assert status(app, run_id)["status"] == "queued" and status(app, run_id)["seq"] == 1

    # a record changed by someone else since it was read: its save fails, and no message is sent
    run = retrainer.store.load(run_id)
    retrainer.store.save(retrainer.store.load(run_id))
    with pytest.raises(ResourceModifiedError):
        retrainer._enqueue(run, 0)
    assert len(queue.peek_messages(max_messages=5)) == 1 and status(app, run_id)["seq"] == 1


def test_a_poisoned_step_fails_the_run_at_once_and_frees_the_next_cycle(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir, monkeypatch
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("po"))
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images" / "apple", prefix="apple/")
    run_id = start(app)[1]["runId"]

    def crash(run):  # a bug or a crash in the step, on every try
        raise RuntimeError("boom at 0x1234")

    monkeypatch.setitem(app.pipeline.retrainer.steps.table, Step.SYNC, crash)
    invocations = run_worker(app, azurite_conn_str, settings["RETRAIN_QUEUE"], finished(app, run_id))

    run = status(app, run_id)
    assert invocations == 5
    assert run["status"] == "failed" and run["step"] == "done"
    assert run["error"] == {"code": "StepFailed", "message": catalogue.text("StepFailed", step="sync")}
    assert "boom" not in json.dumps(run)
    code, body = start(app)  # the marker was released: a new cycle starts at once
    assert code == 202 and body["runId"] != run_id
