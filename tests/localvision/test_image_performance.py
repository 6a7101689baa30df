"""GetImagePerformances and its count: each training image's out-of-fold prediction, through the SDK."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import TRAINING_KEY
from tests.localvision.helpers import tiny_project, wait_trained


@pytest.fixture
def trained(training):
    project, tags = tiny_project(training, "image performances")
    iteration = wait_trained(training, project.id, training.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    yield project, tags, iteration
    training.delete_project(project.id)


def test_every_training_image_once_with_its_out_of_fold_prediction(training, trained):
    project, tags, iteration = trained
    performances = training.get_image_performances(project.id, iteration.id, take=256)
    uploaded = training.get_tagged_images(project.id, take=256)
    assert [p.id for p in performances] == [image.id for image in uploaded]  # Newest first, each once
    tag_of = {image.id: image.tags[0].tag_name for image in uploaded}
    for entry in performances:
        assert {p.tag_name for p in entry.predictions} == {"red", "blue"}
        assert {p.tag_id for p in entry.predictions} == set(tags.values())
        probabilities = [p.probability for p in entry.predictions]
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(0.0 <= p <= 1.0 for p in probabilities) and sum(probabilities) <= 1.0 + 1e-6
        assert entry.predictions[0].tag_name == tag_of[entry.id]  # red and blue are easy to tell apart
        assert [t.tag_name for t in entry.tags] == [tag_of[entry.id]]
        assert (entry.width, entry.height) == (320, 240)
    with urllib.request.urlopen(performances[0].thumbnail_uri) as reply:
        assert reply.headers["Content-Type"] == "image/jpeg" and reply.read(3) == b"\xff\xd8\xff"
    with urllib.request.urlopen(performances[0].image_uri) as reply:
        assert reply.read(3) == b"\xff\xd8\xff"

    assert training.get_image_performance_count(project.id, iteration.id) == 10
    assert training.get_image_performance_count(project.id, iteration.id, tag_ids=[tags["red"]]) == 5
    reds = training.get_image_performances(project.id, iteration.id, tag_ids=[tags["red"]])
    assert {tag_of[p.id] for p in reds} == {"red"} and len(reds) == 5
    oldest = training.get_image_performances(project.id, iteration.id, order_by="Oldest")
    assert [p.id for p in oldest] == [p.id for p in reversed(performances)]


def test_paging_and_its_limits(training, trained, localvision_endpoint):
    project, _, iteration = trained
    everything = [p.id for p in training.get_image_performances(project.id, iteration.id)]
    pages = [
        [p.id for p in training.get_image_performances(project.id, iteration.id, take=4, skip=skip)]
        for skip in (0, 4, 8, 12)
    ]
    assert pages[0] + pages[1] + pages[2] == everything and [len(p) for p in pages] == [4, 4, 2, 0]
    base = (
        f"{localvision_endpoint}/customvision/v3.3/training/projects/{project.id}/iterations/{iteration.id}"
    )
    for take, skip in ((257, 0), (10, -1)):  # the SDK refuses take > 256 itself: ask over plain HTTP
        url = f"{base}/performance/images?take={take}&skip={skip}"
        request = urllib.request.Request(url, headers={"Training-Key": TRAINING_KEY})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        error = json.loads(caught.value.read())
        assert caught.value.code == 400 and error["code"] == "BadRequest" and "0 to 256" in error["message"]
