"""The Microsoft Learn fruit exercise through the SDK: 45 photos, Food domain, Multiclass, published model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.exceptions import HttpOperationError

from devstack.photos import TAGS as FRUITS
from devstack.photos import TEST_TAGS as TEST_PHOTOS
from tests.localvision.helpers import FOOD_DOMAIN, PREDICTION_RESOURCE_ID, serve_files, trainer, wait_trained
from tests.localvision_model.out_of_class import OUT_OF_CLASS

pytestmark = pytest.mark.slow
PUBLISHED = "fruit-classifier"


@dataclass
class Fruit:
    client: CustomVisionTrainingClient
    project_id: str
    iteration_id: str
    tags: dict[str, str]


@pytest.fixture(scope="module")
def fruit(localvision_endpoint: str, fruit_dir: Path):
    client = trainer(localvision_endpoint)
    project = client.create_project("Classify Fruit", domain_id=FOOD_DOMAIN, classification_type="Multiclass")
    tags = {}
    for name in FRUITS:
        tags[name] = client.create_tag(project.id, name).id
        entries = [
            ImageFileCreateEntry(name=path.name, contents=path.read_bytes(), tag_ids=[tags[name]])
            for path in sorted((fruit_dir / "training-images" / name).glob("*.jpg"))
        ]
        assert len(entries) == 15
        assert client.create_images_from_files(
            project.id, ImageFileCreateBatch(images=entries)
        ).is_batch_successful
    iteration = wait_trained(client, project.id, client.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    client.publish_iteration(project.id, iteration.id, PUBLISHED, PREDICTION_RESOURCE_ID)
    yield Fruit(client, project.id, iteration.id, tags)
    client.unpublish_iteration(project.id, iteration.id)
    client.delete_project(project.id)


def test_test_photos_are_classified_right_with_high_probability(fruit, prediction, fruit_dir):
    for photo, expected in TEST_PHOTOS.items():
        result = prediction.classify_image(
            fruit.project_id, PUBLISHED, (fruit_dir / "test-images" / photo).read_bytes()
        )
        top = result.predictions[0]
        assert (top.tag_name, top.tag_id) == (expected, fruit.tags[expected]), photo
        assert top.probability >= 0.9, (photo, top.probability)
        assert result.iteration == fruit.iteration_id and result.project == fruit.project_id
        assert [p.tag_type for p in result.predictions] == ["Regular"] * 3
        assert result.created.tzinfo is not None


def test_more_training_photos_are_classified_right(fruit, prediction, fruit_dir):
    photos = sorted((fruit_dir / "more-training-images").glob("*/*.jpg"))
    assert len(photos) == 6
    for photo in photos:
        result = prediction.classify_image_with_no_store(fruit.project_id, PUBLISHED, photo.read_bytes())
        assert result.predictions[0].tag_name == photo.parent.name, photo.name


def test_performance_is_reported_per_tag(fruit):
    performance = fruit.client.get_iteration_performance(fruit.project_id, fruit.iteration_id, threshold=0.5)
    assert [tag.name for tag in performance.per_tag_performance] == list(FRUITS)
    assert performance.precision >= 0.9 and performance.recall >= 0.9
    assert performance.average_precision >= 0.9
    # localvision's extra field, which the SDK keeps aside: the out-of-fold expected calibration error
    assert 0.0 <= performance.additional_properties["expectedCalibrationError"] <= 0.05


def test_prediction_errors(fruit, prediction, fruit_dir):
    photo = (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes()
    classify, pid, missing = (
        prediction.classify_image,
        fruit.project_id,
        "00000000-0000-0000-0000-000000000000",
    )
    cases = [
        (classify, (pid, "no-such-name", photo), 404, "NotFoundIteration"),
        (classify, (missing, PUBLISHED, photo), 404, "NotFoundProject"),
        (classify, (pid, PUBLISHED, b"plain text"), 400, "BadRequestImageFormat"),
        (classify, (pid, PUBLISHED, b"x" * (4 * 1024 * 1024 + 1)), 400, "BadRequestImageSizeBytes"),
        (prediction.detect_image, (pid, PUBLISHED, photo), 400, "BadRequestNotSupported"),
        (
            prediction.detect_image_url,
            (pid, PUBLISHED, "https://example.com/a.jpg"),
            400,
            "BadRequestNotSupported",
        ),
    ]
    for call, args, status, code in cases:
        with pytest.raises(HttpOperationError) as caught:
            call(*args)
        assert (caught.value.response.status_code, caught.value.error.code) == (status, code), call.__name__


def test_published_iteration_cannot_be_deleted(fruit):
    with pytest.raises(HttpOperationError) as caught:
        fruit.client.delete_iteration(fruit.project_id, fruit.iteration_id)
    assert caught.value.error.code == "BadRequestIterationIsPublished"
    assert fruit.client.get_iteration(fruit.project_id, fruit.iteration_id).publish_name == PUBLISHED


def test_nothing_changed_refuses_training(fruit):
    with pytest.raises(HttpOperationError) as caught:
        fruit.client.train_project(fruit.project_id)
    assert caught.value.error.code == "BadRequestTrainingNotNeeded"


def test_url_prediction_refuses_private_addresses_by_default(fruit, prediction, fruit_dir):
    photo = (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes()
    with serve_files({"/banana.jpg": photo}) as base:
        for call in (prediction.classify_image_url, prediction.classify_image_url_with_no_store):
            with pytest.raises(HttpOperationError) as caught:
                call(fruit.project_id, PUBLISHED, f"{base}/banana.jpg")
            assert caught.value.error.code == "BadRequestImageUrl"
            assert "--allow-private-urls" in caught.value.error.message
    for url in ("ftp://example.com/a.jpg", "file:///etc/passwd", "not a url"):
        with pytest.raises(HttpOperationError) as caught:
            prediction.classify_image_url(fruit.project_id, PUBLISHED, url)
        assert caught.value.error.code == "BadRequestImageUrl"


def test_a_photo_of_no_fruit_gets_low_probabilities_through_the_sdk(fruit, prediction):
    """The open-set score on the wire: the SDK parses the reply as ever; the three probabilities of a
    plain blue wall are all low and sum to far less than 1 (a softmax alone would sum to 1)."""
    wall = (OUT_OF_CLASS / "flat-blue-wall.jpg").read_bytes()
    result = prediction.classify_image_with_no_store(fruit.project_id, PUBLISHED, wall)
    assert sorted(p.tag_name for p in result.predictions) == sorted(FRUITS)
    probabilities = [p.probability for p in result.predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert max(probabilities) < 0.3 and sum(probabilities) < 0.5, probabilities
