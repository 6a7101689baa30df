"""One image and one retrain through the whole local stack (Azurite, localvision, devhost running
function_app.py in its own process), then the spans devhost wrote to its JSON-lines file
(TELEMETRY_EXPORTER=file): names, parent and child, attributes, and errors with their catalogue code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.storage.blob import BlobServiceClient, ContainerClient

from devstack import photos
from devstack.runs import TERMINAL
from devstack.stack import LocalStack
from devstack.traces import Trace, read_spans, render, show, traces
from devstack.vision import FUNCTION_KEY
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
HOST_STEPS = ["download", "classify image", "receipt"]
IMAGE_STAGES = ["normalise", "predict", "write result"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack.start(tmp_path_factory.mktemp("telemetry"))
    try:
        stack.start_devhost({"OTEL_METRIC_EXPORT_INTERVAL": "500"})
        yield stack
    finally:
        stack.stop()


def api(stack: LocalStack, method: str, path: str) -> dict[str, Any]:
    reply = requests.request(
        method, f"{stack.devhost_url}/api/{path}", headers={"x-functions-key": FUNCTION_KEY}, timeout=60
    )
    assert reply.status_code in (200, 202), reply.text
    return reply.json()


def retrain(stack: LocalStack) -> dict[str, Any]:
    run_id = api(stack, "POST", "retrain")["runId"]

    def ended() -> dict[str, Any] | None:
        run = api(stack, "GET", f"retrain/{run_id}")
        return run if run["status"] in TERMINAL else None

    return wait_until(ended, 240, f"retrain run {run_id} to end", every=0.3)


def spans_of(path: Path, until: Any) -> list[Trace]:
    """The file's traces once ``until(traces)`` holds (the SDK writes its batches every half second)."""
    return wait_until(lambda: (t := traces(read_spans(path))) and until(t) and t, 30, f"spans in {path}")


def by_name(trace: Trace, name: str) -> dict[str, Any]:
    found = [s for s in trace.spans if s["name"] == name]
    assert len(found) == 1, f"{name}: {len(found)} spans in\n" + "\n".join(render(trace))
    return found[0]


def child_names(trace: Trace, span: dict[str, Any]) -> list[str]:
    return [s["name"] for s in trace.children(span["span"])]


def run_traces(path: Path, run_id: str, last_step: str) -> list[Trace]:
    def has(ts: list[Trace]) -> bool:
        return any(
            s["name"] == last_step and s["attributes"].get("run.id") == run_id for t in ts for s in t.spans
        )

    return [t for t in spans_of(path, has) if run_id in t.attribute("run.id")]


@pytest.fixture(scope="module")
def runs(stack: LocalStack, fruit_dir: Path) -> dict[str, dict[str, Any]]:
    """A retrain with no training images (it fails), then one with the fruit photos (it publishes)."""
    failed = retrain(stack)
    training = BlobServiceClient.from_connection_string(stack.conn_str).get_container_client(
        stack.values["TRAINING_CONTAINER"]
    )
    training.create_container()
    for photo in photos.training(fruit_dir):
        training.upload_blob(photo.name, photo.data, overwrite=True)
    return {"failed": failed, "trained": retrain(stack)}


def test_a_failed_retrain_carries_its_catalogue_code(stack, runs):
    run = runs["failed"]
    assert run["status"] == "failed" and run["error"]["code"] == "NoTrainingData", run
    [trace] = run_traces(stack.telemetry_file, run["runId"], "retrain sync")
    sync = by_name(trace, "retrain sync")
    assert sync["status"] == "ERROR"
    assert sync["attributes"] == {
        "run.id": run["runId"],
        "retrain.step": "sync",
        "error.code": "NoTrainingData",
    }
    assert sync["events"][0]["name"] == "exception"
    worker = by_name(trace, "Functions.retrain_worker")
    assert sync["parent"] == worker["span"] and worker["parent"] is None


def test_a_retrain_has_a_span_per_step_with_its_run(stack, runs):
    run = runs["trained"]
    assert run["status"] == "succeeded", run
    found = run_traces(stack.telemetry_file, run["runId"], "retrain prune")
    steps = {s["name"]: s for t in found for s in t.spans if s["name"].startswith("retrain ")}
    names = ("sync", "train", "poll", "evaluate", "gate", "publish", "prune")
    assert set(steps) == {f"retrain {n}" for n in names}
    assert all(s["attributes"]["run.id"] == run["runId"] and s["status"] == "UNSET" for s in steps.values())
    outcomes = {name: steps[f"retrain {name}"]["attributes"].get("outcome") for name in names}
    assert outcomes == {
        "sync": "train",
        "train": "poll",
        "poll": outcomes["poll"],  # "evaluate", or "running" while it waits for the training (then again)
        "evaluate": "publish",
        "gate": None,
        "publish": "prune",
        "prune": "succeeded",
    }
    assert outcomes["poll"] in ("evaluate", "running")
    assert steps["retrain gate"]["parent"] == steps["retrain evaluate"]["span"]
    for trace in found:  # every step runs in a queue-trigger invocation of the worker: a trace per message
        assert [r["name"] for r in trace.roots()] == ["Functions.retrain_worker"], render(trace)


@pytest.fixture(scope="module")
def images(stack: LocalStack) -> ContainerClient:
    """The stack's images container, created if no test has yet."""
    container = BlobServiceClient.from_connection_string(stack.conn_str).get_container_client(
        stack.values["IMAGES_CONTAINER"]
    )
    if not container.exists():
        container.create_container()
    return container


def image_trace(ts: list[Trace], name: str) -> Trace | None:
    """The last complete trace (its receipt written) of the blob ``name``."""
    found = [
        t for t in ts if name in t.attribute("blob.name") and any(s["name"] == "receipt" for s in t.spans)
    ]
    return found[-1] if found else None


def test_an_image_trace_from_download_to_receipt(stack, runs, images, fruit_dir):
    iteration = runs["trained"]["iteration"]["id"]
    photo = photos.test_photos(fruit_dir)[0]
    etag = images.upload_blob("traced/apple.jpg", photo.data, overwrite=True).get_blob_properties().etag
    images.upload_blob("traced/not-an-image.jpg", b"this is text", overwrite=True)
    names = ("traced/apple.jpg", "traced/not-an-image.jpg")
    ts = spans_of(stack.telemetry_file, lambda ts: all(image_trace(ts, n) for n in names))

    trace = image_trace(ts, "traced/apple.jpg")
    root = by_name(trace, "Functions.classify")
    assert trace.roots() == [root], render(trace)
    assert root["attributes"]["blob.name"] == "traced/apple.jpg" and root["attributes"]["blob.etag"] == etag
    assert child_names(trace, root) == HOST_STEPS
    image = by_name(trace, "classify image")
    assert child_names(trace, image) == IMAGE_STAGES
    outcome = image["attributes"]["outcome"]
    assert image["attributes"] == {
        "blob.name": "traced/apple.jpg",
        "blob.etag": etag,
        "backend": "service",
        "iteration.id": iteration,
        "outcome": outcome,
    }
    assert outcome in ("classified", "review")
    assert by_name(trace, "predict")["attributes"] == {"backend": "service", "iteration.id": iteration}
    assert all(s["status"] == "UNSET" for s in trace.spans)

    bad = image_trace(ts, "traced/not-an-image.jpg")
    image = by_name(bad, "classify image")
    assert image["status"] == "ERROR"
    assert image["attributes"]["outcome"] == "failed" and image["attributes"]["error.code"] == "NotAnImage"
    normalise = by_name(bad, "normalise")
    assert normalise["attributes"]["error.code"] == "NotAnImage" and normalise["status"] == "ERROR"
    assert child_names(bad, image) == ["normalise", "write result"]  # nothing predicted: one error document


def test_devstack_traces_shows_an_images_and_a_runs_trees(stack, runs, images, fruit_dir):
    images.upload_blob("shown/banana.jpg", photos.test_photos(fruit_dir)[1].data, overwrite=True)
    spans_of(stack.telemetry_file, lambda ts: image_trace(ts, "shown/banana.jpg"))

    shown = show(stack.telemetry_file, image="shown/banana.jpg")
    assert shown[0].startswith("trace ")
    lines = [line for line in shown[1:] if line.strip()]
    tree = [(len(line) - len(line.lstrip())) // 2 for line in lines], [line.split()[0] for line in lines]
    expected = (
        ["Functions.classify", "download", "classify", "normalise", "predict", "write"],
        [1, 2, 2, 3, 3, 3],
    )
    review = tree[1][6:7] == ["review"]  # a low-confidence photo: its review copy, then the receipt
    assert tree[1] == expected[0] + (["review"] if review else []) + ["receipt"], shown
    assert tree[0] == expected[1] + ([3] if review else []) + [2], shown
    assert "blob.name=shown/banana.jpg" in shown[1] and "iteration.id=" in "\n".join(shown)
    run_id = runs["failed"]["runId"]
    shown = "\n".join(show(stack.telemetry_file, run=run_id))
    assert "    retrain sync FAILED" in shown and "error.code=NoTrainingData" in shown
    # with neither: the last image's trace and the last run's steps
    last = "\n".join(show(stack.telemetry_file))
    assert "blob.name=shown/banana.jpg" in last and runs["trained"]["runId"] in last
    assert show(stack.telemetry_file, image="no/such.jpg") == [
        f"no trace of image no/such.jpg in {stack.telemetry_file}"
    ]


def metric_points(path: Path, name: str) -> list[dict[str, Any]]:
    """The data points of the last export of metric ``name`` (cumulative: the totals so far)."""
    last: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("kind") == "metric" and record.get("name") == name:
            last = record["data"]["data_points"]
    return last


def test_metrics_count_images_by_outcome_and_time_predictions_and_runs(stack, runs, images, fruit_dir):
    images.upload_blob("counted/kiwi.jpg", photos.test_photos(fruit_dir)[2].data, overwrite=True)
    images.upload_blob("counted/text.jpg", b"not a photo", overwrite=True)

    def counted() -> dict[tuple[str, str | None], int] | None:
        points = metric_points(stack.telemetry_file, "pipeline.images")
        counts = {(p["attributes"]["outcome"], p["attributes"].get("reason")): p["value"] for p in points}
        good = counts.get(("classified", None), 0) + counts.get(("review", None), 0)
        return counts if ("failed", "NotAnImage") in counts and good else None

    counts = wait_until(counted, 60, "the pipeline.images metric")  # exported every 500 ms here
    assert counts[("failed", "NotAnImage")] >= 1
    assert counts.get(("classified", None), 0) + counts.get(("review", None), 0) >= 1
    predictions = metric_points(stack.telemetry_file, "pipeline.prediction.duration")
    assert {p["attributes"]["backend"] for p in predictions} == {"service"}
    assert all(p["count"] >= 1 and p["sum"] > 0 for p in predictions)
    durations = {
        p["attributes"]["status"]: p for p in metric_points(stack.telemetry_file, "pipeline.retrain.duration")
    }
    assert {"failed", "succeeded"} <= set(durations)
    assert durations["succeeded"]["count"] == 1 and durations["succeeded"]["sum"] >= 1
