"""Training, iterations, performance and publishing on small generated projects (fast)."""

from __future__ import annotations

import pytest
from msrest.exceptions import HttpOperationError

from tests.localvision.helpers import (
    BLUE,
    OD_GENERAL_DOMAIN,
    PREDICTION_RESOURCE_ID,
    RED,
    image_bytes,
    tiny_project,
    upload,
    wait_trained,
)


def error_code(call, *args, **kwargs) -> str:
    """The service error code that ``call`` raises (training or prediction CustomVisionErrorException)."""
    with pytest.raises(HttpOperationError) as caught:
        call(*args, **kwargs)
    assert caught.value.response.status_code in (400, 404)
    return caught.value.error.code


@pytest.fixture
def tiny(training):
    project, tags = tiny_project(training)
    yield project, tags
    for iteration in training.get_iterations(project.id):
        if iteration.publish_name:
            training.unpublish_iteration(project.id, iteration.id)
    training.delete_project(project.id)


def test_training_refused_without_enough_images(training, project):
    red = training.create_tag(project.id, "red")
    blue = training.create_tag(project.id, "blue")
    assert error_code(training.train_project, project.id) == "BadRequestTrainingValidationFailed"
    upload(training, project.id, red.id, [image_bytes(RED, seed=i) for i in range(5)])
    upload(training, project.id, blue.id, [image_bytes(BLUE, seed=10 + i) for i in range(4)])
    with pytest.raises(HttpOperationError) as caught:
        training.train_project(project.id)
    assert caught.value.error.code == "BadRequestTrainingValidationFailed"
    assert "blue=4" in caught.value.error.message
    assert training.get_iterations(project.id) == []


def test_training_lifecycle_and_iterations(training, tiny):
    project, tags = tiny
    started = training.train_project(project.id)
    assert (started.status, started.name, started.training_type) == ("Training", "Iteration 1", "Regular")
    assert started.trained_at is None
    first = wait_trained(training, project.id, started.id)
    assert first.status == "Completed" and first.trained_at is not None
    assert first.training_error_details is None
    assert error_code(training.train_project, project.id) == "BadRequestTrainingNotNeeded"

    # A new image: the images get featurized again, so the training lasts long enough to be refused again
    # (a retrain of unchanged images reuses their features and may end before the next call).
    upload(training, project.id, tags["red"], [image_bytes(RED, seed=600)])
    second = training.train_project(project.id, force_train=True)
    assert second.name == "Iteration 2"
    assert (
        error_code(training.train_project, project.id, force_train=True)
        == "BadRequestTrainingAlreadyInProgress"
    )
    wait_trained(training, project.id, second.id)
    assert [it.id for it in training.get_iterations(project.id)] == [first.id, second.id]

    renamed = training.update_iteration(project.id, first.id, "first one")
    assert renamed.name == "first one" and training.get_iteration(project.id, first.id).name == "first one"
    training.delete_iteration(project.id, second.id)
    assert error_code(training.get_iteration, project.id, second.id) == "NotFoundIteration"
    assert error_code(training.delete_iteration, project.id, second.id) == "NotFoundIteration"


def test_new_images_allow_training_again(training, tiny):
    project, tags = tiny
    wait_trained(training, project.id, training.train_project(project.id).id)
    upload(training, project.id, tags["red"], [image_bytes(RED, seed=500)])
    again = wait_trained(training, project.id, training.train_project(project.id).id)
    assert again.status == "Completed"
    tagged = {image.id for image in training.get_tagged_images(project.id, iteration_id=again.id)}
    assert len(tagged) == 11


def test_publish_unpublish_and_delete_rules(training, prediction, tiny):
    project, _ = tiny
    first = wait_trained(training, project.id, training.train_project(project.id).id)
    second = wait_trained(training, project.id, training.train_project(project.id, force_train=True).id)

    bad_target = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a"
    assert error_code(training.publish_iteration, project.id, first.id, "m", bad_target) == (
        "BadRequestInvalidPublishTarget"
    )
    assert error_code(training.publish_iteration, project.id, first.id, "", PREDICTION_RESOURCE_ID) == (
        "BadRequestInvalidPublishName"
    )
    assert training.publish_iteration(project.id, first.id, "my model", PREDICTION_RESOURCE_ID) is True
    assert (
        training.publish_iteration(project.id, first.id, "my model", PREDICTION_RESOURCE_ID) is True
    )  # no-op
    published = training.get_iteration(project.id, first.id)
    assert (published.publish_name, published.original_publish_resource_id) == (
        "my model",
        PREDICTION_RESOURCE_ID,
    )
    assert prediction.classify_image(project.id, "my model", image_bytes(RED, seed=900)).iteration == first.id

    assert error_code(
        training.publish_iteration, project.id, second.id, "my model", PREDICTION_RESOURCE_ID
    ) == ("BadRequestInvalidPublishName")
    training.publish_iteration(project.id, second.id, "my model", PREDICTION_RESOURCE_ID, overwrite=True)
    assert training.get_iteration(project.id, first.id).publish_name == ""
    assert (
        prediction.classify_image(project.id, "my model", image_bytes(RED, seed=900)).iteration == second.id
    )

    assert error_code(training.delete_iteration, project.id, second.id) == "BadRequestIterationIsPublished"
    assert error_code(training.unpublish_iteration, project.id, first.id) == "BadRequestIterationNotPublished"
    training.unpublish_iteration(project.id, second.id)
    assert (
        error_code(prediction.classify_image, project.id, "my model", image_bytes(seed=1))
        == "NotFoundIteration"
    )
    training.delete_iteration(project.id, second.id)
    assert [it.id for it in training.get_iterations(project.id)] == [first.id]


def test_performance_quick_test_and_tags_of_an_iteration(training, tiny):
    project, tags = tiny
    iteration = wait_trained(training, project.id, training.train_project(project.id).id)
    performance = training.get_iteration_performance(project.id, iteration.id)
    assert {tag.name for tag in performance.per_tag_performance} == {"red", "blue"}
    assert performance.precision == pytest.approx(1.0) and performance.recall == pytest.approx(1.0)
    assert 0.0 <= performance.average_precision <= 1.0
    strict = training.get_iteration_performance(project.id, iteration.id, threshold=1.0)
    assert strict.recall <= performance.recall
    assert (
        error_code(training.get_iteration_performance, project.id, iteration.id, threshold=2.0)
        == "BadRequest"
    )

    result = training.quick_test_image(project.id, image_bytes(BLUE, seed=777))
    assert result.iteration == iteration.id
    assert result.predictions[0].tag_name == "blue"
    assert result.predictions[0].probability >= result.predictions[1].probability
    assert training.quick_test_image(
        project.id, image_bytes(RED, seed=778), iteration_id=iteration.id
    ).predictions[0].tag_name == ("red")

    training.delete_tag(project.id, tags["blue"])
    snapshot = {tag.name: tag.image_count for tag in training.get_tags(project.id, iteration_id=iteration.id)}
    assert snapshot == {"red": 5, "blue": 5}
    assert [tag.name for tag in training.get_tags(project.id)] == ["red"]


def test_quick_test_needs_a_trained_iteration(training, tiny):
    project, _ = tiny
    assert (
        error_code(training.quick_test_image, project.id, image_bytes(seed=1))
        == "NotFoundProjectDefaultIteration"
    )


def test_advanced_training_needs_a_budget(training, tiny):
    project, _ = tiny
    assert error_code(training.train_project, project.id, training_type="Advanced") == (
        "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining"
    )
    started = training.train_project(project.id, training_type="Advanced", reserved_budget_in_hours=1)
    done = wait_trained(training, project.id, started.id)
    assert (done.status, done.training_type, done.reserved_budget_in_hours) == ("Completed", "Advanced", 1)


def test_multiclass_refuses_images_with_two_tags_multilabel_trains(training):
    for kind in ("Multiclass", "Multilabel"):
        project = training.create_project(f"{kind} project", classification_type=kind)
        try:
            red = training.create_tag(project.id, "red")
            blue = training.create_tag(project.id, "blue")
            upload(training, project.id, red.id, [image_bytes(RED, seed=i) for i in range(5)])
            upload(training, project.id, blue.id, [image_bytes(BLUE, seed=20 + i) for i in range(5)])
            both = training.create_images_from_data(
                project.id, image_bytes(seed=99), tag_ids=[red.id, blue.id]
            )
            assert both.is_batch_successful
            if kind == "Multiclass":
                assert error_code(training.train_project, project.id) == (
                    "BadRequestMultiClassClassificationTrainingValidationFailed"
                )
            else:
                done = wait_trained(training, project.id, training.train_project(project.id).id)
                assert (done.status, done.classification_type) == ("Completed", "Multilabel")
                result = training.quick_test_image(project.id, image_bytes(RED, seed=300))
                assert {p.tag_name for p in result.predictions} == {"red", "blue"}
        finally:
            training.delete_project(project.id)


def test_object_detection_projects_do_not_train(training):
    project = training.create_project("detector", domain_id=OD_GENERAL_DOMAIN)
    try:
        assert error_code(training.train_project, project.id) == "BadRequestUnsupportedDomain"
    finally:
        training.delete_project(project.id)


def test_unknown_project_and_iteration(training, tiny):
    project, _ = tiny
    missing = "00000000-0000-0000-0000-000000000000"
    assert error_code(training.train_project, missing) == "NotFoundProject"
    assert error_code(training.get_iterations, missing) == "NotFoundProject"
    assert error_code(training.get_iteration, project.id, missing) == "NotFoundIteration"
    assert error_code(training.get_iteration_performance, project.id, missing) == "NotFoundIteration"
    assert error_code(training.publish_iteration, project.id, missing, "x", PREDICTION_RESOURCE_ID) == (
        "NotFoundIteration"
    )


@pytest.mark.slow
def test_at_most_20_iterations(training, tiny):
    project, _ = tiny
    for number in range(20):
        wait_trained(training, project.id, training.train_project(project.id, force_train=number > 0).id)
    assert len(training.get_iterations(project.id)) == 20
    assert error_code(training.train_project, project.id, force_train=True) == (
        "BadRequestExceedIterationPerProjectLimit"
    )
