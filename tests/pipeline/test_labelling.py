"""Labelling against real Azurite, through the console's own functions: one decision per image. Two
people labelling the same image at once (review/assign and result/label, under two tags) end with one
training blob, the second told what the first decided; the same label twice adds no copy."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from shared import catalogue
from shared.console import review
from shared.console.areas import Areas
from shared.console.http import Conflict
from shared.settings.definitions import load_settings
from shared.storage import connect
from tests.pipeline.conftest import base_settings, containers, unique
from tests.pipeline.test_mirror import tiny_jpeg

FOLDERS = {"apple", "orange"}
NO_SERVICE = "http://127.0.0.1:9"


@pytest.fixture
def stack(azurite_conn_str: str) -> tuple[Areas, dict[str, Any]]:
    values = base_settings(azurite_conn_str, NO_SERVICE, unique("lb"))
    stores = containers(azurite_conn_str, values)
    settings = load_settings(values)
    return Areas(settings, connect(settings)), stores


def _at_once(*calls) -> list[Any]:
    """Run the calls in threads released together; each result is its answer or the exception raised."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = calls[index]()
        except Exception as error:  # the answer under test
            answers[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_labels_of_one_image_at_once_leave_one_training_blob(stack):
    areas, stores = stack
    items = [f"batch/item{i}.png" for i in range(12)]
    for index, name in enumerate(items):
        stores["images"].upload_blob(name, tiny_jpeg(index))
        stores["review"].upload_blob(name, tiny_jpeg(index))
    for name in items:
        first, second = _at_once(
            lambda n=name: review.assign(areas, n, "apple", FOLDERS),
            lambda n=name: review.label_result(areas, n, "orange", FOLDERS),
        )
        assert isinstance(first, dict) != isinstance(second, dict), (first, second)
        winner, refusal = ("apple", second) if isinstance(first, dict) else ("orange", first)
        assert isinstance(refusal, Conflict) and refusal.status == 409, refusal
        assert refusal.message == catalogue.CATALOGUE["LabelledMeanwhile"].message.format(
            name=name, tag=winner
        )
        (won,) = [a for a in (first, second) if isinstance(a, dict)]
        assert won["moved"]["to"] == {"area": "training", "name": f"{winner}/{name.rsplit('/', 1)[1]}"}
    in_training = sorted(b.name for b in stores["training"].list_blobs())
    assert len(in_training) == 12, in_training
    assert {n.rsplit("/", 1)[1] for n in in_training} == {n.rsplit("/", 1)[1] for n in items}
    assert not list(stores["review"].list_blobs())


def test_labelling_again_answers_what_happened_instead_of_copying(stack):
    areas, stores = stack
    stores["images"].upload_blob("x/filed.png", tiny_jpeg(1))
    stores["review"].upload_blob("x/filed.png", tiny_jpeg(1))
    moved = review.assign(areas, "x/filed.png", "apple", FOLDERS)
    assert moved["moved"]["to"] == {"area": "training", "name": "apple/filed.png"}
    for again in (
        lambda: review.label_result(areas, "x/filed.png", "Apple", FOLDERS),  # "Add to training as"
        lambda: review.assign(areas, "x/filed.png", "apple", FOLDERS),  # clicked twice
    ):
        answer = again()
        assert answer == {
            "already": {"area": "training", "name": "apple/filed.png"},
            "message": catalogue.text(
                "AlreadyLabelled", name="x/filed.png", tag="apple", training="apple/filed.png"
            ),
        }
    with pytest.raises(Conflict) as other:
        review.label_result(areas, "x/filed.png", "orange", FOLDERS)
    assert "labelled meanwhile as apple" in other.value.message
    assert [b.name for b in stores["training"].list_blobs()] == ["apple/filed.png"]

    # undoing the label frees the image for another decision
    review.undo(areas, moved["undo"])
    relabelled = review.label_result(areas, "x/filed.png", "orange", FOLDERS)
    assert relabelled["moved"]["to"] == {"area": "training", "name": "orange/filed.png"}
    assert [b.name for b in stores["training"].list_blobs()] == ["orange/filed.png"]


def test_new_content_under_the_same_name_is_a_new_decision(stack):
    areas, stores = stack
    stores["images"].upload_blob("y.png", tiny_jpeg(1))
    copied = review.label_result(areas, "y.png", "apple", FOLDERS)
    assert copied["copied"]["to"] == {"area": "training", "name": "apple/y.png"}
    stores["images"].upload_blob("y.png", tiny_jpeg(2), overwrite=True)
    again = review.label_result(areas, "y.png", "orange", FOLDERS)
    assert again["copied"]["to"] == {"area": "training", "name": "orange/y.png"}
    review.undo(areas, again["undo"])  # the copy's undo deletes it and frees the decision
    assert review.label_result(areas, "y.png", "apple", FOLDERS)["copied"]["to"]["name"] == "apple/y-2.png"
