"""Iterations through the console's API on the real local stack (localvision): metrics at another
threshold, images per tag, the quick test of one iteration, the ONNX export, and what is refused."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from tests.console.test_console_api import api
from tests.robustness.conftest import Stack


def iterations(stack: Stack, threshold: float | None = None) -> list[dict]:
    query = f"?{urlencode({'threshold': threshold})}" if threshold is not None else ""
    status, data, _ = api(stack, "GET", f"runs{query}")
    assert status == 200, data
    return [it for it in data["iterations"] if it["metrics"]]


def test_the_threshold_changes_the_metrics_the_service_computes(console_stack: Stack):
    low, high = iterations(console_stack, 0.5)[0], iterations(console_stack, 0.999)[0]
    assert low["metrics"]["threshold"] == 0.5 and high["metrics"]["threshold"] == 0.999
    # the fruit model is sure of almost every photo: only a very high threshold loses some of them
    assert high["metrics"]["recall"] < low["metrics"]["recall"]
    recall = {t["tagName"]: t["recall"] for t in high["metrics"]["perTag"]}
    assert min(recall.values()) < 1.0 and set(recall) == {"apple", "banana", "orange"}
    counts = low["imageCounts"]
    assert {"apple", "banana", "orange"} <= set(counts) and all(
        counts[t] >= 5 for t in counts if t != "Negative"
    )
    status, answer, _ = api(console_stack, "GET", "runs?threshold=1.5")
    assert status == 400 and "'threshold'" in answer["error"]["message"]


def test_the_quick_test_of_one_iteration_says_which_answered(console_stack: Stack):
    iteration = iterations(console_stack)[0]
    banana = (console_stack.fruit / "test-images" / "IMG_TEST_2.jpg").read_bytes()
    query = urlencode({"iteration": iteration["id"]})
    status, raw, _ = console_stack.http(
        "POST", f"api/console-api/iteration/quick?{query}", banana, {"Content-Type": "image/jpeg"}
    )
    answer = json.loads(raw)
    assert status == 200, answer
    assert answer["iteration"] == {"id": iteration["id"], "name": iteration["name"]}
    assert answer["predictions"][0]["tagName"] == "banana"
    status, raw, _ = console_stack.http(
        "POST", f"api/console-api/iteration/quick?{query}", b"nope", {"Content-Type": "image/jpeg"}
    )
    assert status == 422 and json.loads(raw)["error"]["code"] == "NotAnImage"


def test_an_iteration_of_a_project_on_a_domain_that_does_not_export_says_so(console_stack: Stack):
    """The fruit project here is on the General domain (the export itself: the lab test, on a compact one)."""
    iteration = iterations(console_stack)[0]
    status, answer, _ = api(
        console_stack, "GET", f"iteration/export?{urlencode({'iteration': iteration['id']})}"
    )
    assert status == 409 and answer["error"]["code"] == "IterationNotExportable"
    assert answer["error"]["message"].startswith(f"{iteration['name']} cannot be downloaded as ONNX")


def test_the_published_iteration_cannot_be_deleted_and_an_unknown_one_is_a_clear_error(console_stack: Stack):
    published = next(it for it in iterations(console_stack) if it["publishedName"])
    status, answer, _ = api(console_stack, "POST", "iteration/delete", {"iteration": published["id"]})
    assert status == 400 and answer["error"]["code"] == "IterationPublished"
    assert answer["error"]["message"].startswith(f"{published['name']} is published")
    assert any(it["id"] == published["id"] for it in iterations(console_stack))
    status, answer, _ = api(console_stack, "POST", "iteration/publish", {"iteration": "no-such-iteration"})
    assert status in (404, 409, 502) and "Traceback" not in answer["error"]["message"], answer
    assert answer["error"]["message"]
