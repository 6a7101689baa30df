"""Comparing two iterations image by image, and the run records of actions by hand, through the console's
API on the real local stack (Azurite, localvision, devhost)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from azure.cognitiveservices.vision.customvision.training.models import ImageTagCreateEntry

from devstack import vision
from tests.console.test_console_api import api
from tests.pipeline.contract_checks import check_run
from tests.robustness.conftest import Stack


def iterations(stack: Stack) -> list[dict]:
    status, data, _ = api(stack, "GET", "runs")
    assert status == 200, data
    return data["iterations"]


def console_runs(stack: Stack) -> list[dict]:
    status, data, _ = api(stack, "GET", "runs")
    assert status == 200, data
    return [check_run(run) for run in data["runs"] if run["trigger"] == "console"]


def retag(stack: Stack, image_ids: list[str], old: str, new: str) -> None:
    client = vision.trainer(stack.stack.endpoint)
    client.delete_image_tags(stack.project_id, image_ids, [old])
    entries = [ImageTagCreateEntry(image_id=i, tag_id=new) for i in image_ids]
    client.create_image_tags(stack.project_id, tags=entries)


@pytest.fixture
def swapped(console_stack: Stack) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Iteration 1 (the fruit model) and a second one trained with the apple and banana labels swapped;
    yields (first id, second id, image id -> its true tag). Afterwards the labels are swapped back and the
    second iteration is deleted through the console (which records that)."""
    client = vision.trainer(console_stack.stack.endpoint)
    pid = console_stack.project_id
    tags = {t.name: t.id for t in client.get_tags(pid)}
    truth = {
        image.id: name
        for name in ("apple", "banana")
        for image in client.get_tagged_images(pid, tag_ids=[tags[name]], take=256)
    }
    apples = [i for i, t in truth.items() if t == "apple"]
    bananas = [i for i, t in truth.items() if t == "banana"]
    first = next(it for it in client.get_iterations(pid) if it.status == "Completed")
    retag(console_stack, apples, tags["apple"], tags["banana"])
    retag(console_stack, bananas, tags["banana"], tags["apple"])
    try:
        second = client.train_project(pid)
        deadline = time.monotonic() + 300
        while second.status == "Training" and time.monotonic() < deadline:
            time.sleep(0.3)
            second = client.get_iteration(pid, second.id)
        assert second.status == "Completed", second.training_error_details
        yield first.id, second.id, truth
    finally:
        retag(console_stack, apples, tags["banana"], tags["apple"])
        retag(console_stack, bananas, tags["apple"], tags["banana"])
    status, answer, _ = api(console_stack, "POST", "iteration/delete", {"iteration": second.id})
    assert status == 200, answer
    deleted = next(r for r in console_runs(console_stack) if r["step"] == "delete")
    assert deleted["iteration"]["id"] == second.id and deleted["status"] == "succeeded"
    assert deleted["reason"] == f"{second.name} deleted by hand"


def compare(stack: Stack, a: str, b: str) -> dict:
    status, answer, _ = api(stack, "GET", f"iteration/compare?{urlencode({'a': a, 'b': b})}")
    assert status == 200, answer
    return answer


def images_of(stack: Stack, iteration_id: str) -> set[str]:
    """The training images an iteration was evaluated on (the service's image performances)."""
    client = vision.trainer(stack.stack.endpoint)
    return {p.id for p in client.get_image_performances(stack.project_id, iteration_id, take=256)}


def test_comparing_lists_the_images_whose_predicted_tag_changed(console_stack: Stack, swapped):
    first, second, truth = swapped
    # Other tests may have labelled images into the shared project: compare what both iterations hold.
    in_both = images_of(console_stack, first) & images_of(console_stack, second)
    answer = compare(console_stack, first, second)
    assert answer["a"]["id"] == first and answer["b"]["id"] == second
    assert answer["compared"] == len(in_both) >= 45  # at least the fruit project's 45 training images
    changed = {entry["imageId"]: entry for entry in answer["changed"]}
    assert all(entry["tagA"] != entry["tagB"] for entry in changed.values())
    assert set(changed) <= in_both
    # apples were labelled banana in the second training (and bananas apple): its predictions follow
    other = {"apple": "banana", "banana": "apple"}
    swapped_in_both = {i: tag for i, tag in truth.items() if i in in_both}
    swapped_right = [
        i for i, tag in swapped_in_both.items()
        if i in changed and (changed[i]["tagA"], changed[i]["tagB"]) == (tag, other[tag])
    ]  # fmt: skip
    assert len(swapped_in_both) >= 30, swapped_in_both  # the 15 apples and 15 bananas at least
    assert len(swapped_right) >= 0.8 * len(swapped_in_both), answer["changed"]
    assert all(0.0 <= e["probabilityA"] <= 1.0 and 0.0 <= e["probabilityB"] <= 1.0 for e in changed.values())

    same = compare(console_stack, first, first)
    assert same["changed"] == [] and same["compared"] == len(images_of(console_stack, first))


def test_comparing_refuses_an_unknown_iteration_clearly(console_stack: Stack):
    first = iterations(console_stack)[0]["id"]
    status, answer, _ = api(console_stack, "GET", f"iteration/compare?{urlencode({'a': first, 'b': ''})}")
    assert status == 400 and answer["error"]["code"] == "MissingField", answer


def test_a_publish_by_hand_leaves_a_console_run_record(console_stack: Stack):
    published = next(it for it in iterations(console_stack) if it["publishedName"])
    before = {run["runId"] for run in console_runs(console_stack)}
    status, answer, _ = api(console_stack, "POST", "iteration/publish", {"iteration": published["id"]})
    assert status == 200, answer
    new = [run for run in console_runs(console_stack) if run["runId"] not in before]
    assert len(new) == 1
    run = new[0]
    assert (run["trigger"], run["step"], run["status"]) == ("console", "publish", "succeeded")
    assert run["published"] == {
        "iterationId": published["id"],
        "publishedName": published["publishedName"],
        "replaced": None,
    }
    assert run["iteration"]["name"] == published["name"] and run["finishedAt"] and run["error"] is None
    assert run["reason"] == f"{published['name']} published by hand as {published['publishedName']}"
