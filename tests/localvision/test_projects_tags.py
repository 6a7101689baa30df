"""Projects and tags through the SDK: create, read, update, delete, and the service's errors."""

from __future__ import annotations

import pytest
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException

from tests.localvision.helpers import FOOD_DOMAIN, GENERAL_DOMAIN, OD_GENERAL_DOMAIN, image_bytes, upload


def error_of(call, *args, **kwargs) -> CustomVisionErrorException:
    with pytest.raises(CustomVisionErrorException) as caught:
        call(*args, **kwargs)
    return caught.value


def test_create_get_update_delete_project(training):
    created = training.create_project(
        "Classify Fruit", description="fruit", domain_id=FOOD_DOMAIN, classification_type="Multilabel"
    )
    try:
        assert created.settings.domain_id == FOOD_DOMAIN
        assert created.settings.classification_type == "Multilabel"
        fetched = training.get_project(created.id)
        assert (fetched.name, fetched.description, fetched.status) == ("Classify Fruit", "fruit", "Succeeded")
        assert created.id in [project.id for project in training.get_projects()]
        fetched.name = "Renamed"
        fetched.settings.classification_type = "Multiclass"
        fetched.settings.domain_id = GENERAL_DOMAIN
        updated = training.update_project(created.id, fetched)
        assert updated.name == "Renamed"
        assert updated.settings.classification_type == "Multiclass"
        assert training.get_project(created.id).settings.domain_id == GENERAL_DOMAIN
    finally:
        training.delete_project(created.id)
    assert error_of(training.get_project, created.id).error.code == "NotFoundProject"


def test_project_defaults_are_general_multiclass(project):
    assert project.settings.domain_id == GENERAL_DOMAIN
    assert project.settings.classification_type == "Multiclass"
    assert project.description == "made by a test"


def test_project_errors(training):
    assert error_of(
        training.create_project, "x", domain_id="11111111-1111-1111-1111-111111111111"
    ).error.code == ("BadRequestProjectUnknownDomain")
    assert error_of(training.create_project, "x", classification_type="Binary").error.code == (
        "BadRequestProjectUnknownClassification"
    )
    assert error_of(training.create_project, "  ").error.code == "BadRequestProjectName"
    missing = error_of(training.get_project, "00000000-0000-0000-0000-000000000000")
    assert (missing.response.status_code, missing.error.code) == (404, "NotFoundProject")
    assert error_of(training.delete_project, "not-a-guid").error.code == "NotFoundProject"


def test_domain_type_cannot_change(training, project):
    project.settings.domain_id = OD_GENERAL_DOMAIN
    assert error_of(training.update_project, project.id, project).error.code == (
        "BadRequestProjectUnsupportedDomainTypeChange"
    )


def test_tag_lifecycle_with_image_count(training, project):
    apple = training.create_tag(project.id, "apple", description="red or green")
    banana = training.create_tag(project.id, "banana")
    assert (apple.name, apple.description, apple.type, apple.image_count) == (
        "apple",
        "red or green",
        "Regular",
        0,
    )
    assert banana.description == ""
    upload(training, project.id, apple.id, [image_bytes(seed=1), image_bytes(seed=2)])
    counts = {tag.name: tag.image_count for tag in training.get_tags(project.id)}
    assert counts == {"apple": 2, "banana": 0}
    fetched = training.get_tag(project.id, apple.id)
    assert fetched.image_count == 2
    fetched.name = "green apple"
    updated = training.update_tag(project.id, apple.id, fetched)
    assert (updated.name, updated.image_count) == ("green apple", 2)
    banana_fetched = training.get_tag(project.id, banana.id)
    banana_fetched.description = "yellow"
    assert training.update_tag(project.id, banana.id, banana_fetched).description == "yellow"
    training.delete_tag(project.id, apple.id)
    assert [tag.name for tag in training.get_tags(project.id)] == ["banana"]
    assert training.get_tagged_image_count(project.id) == 0
    assert training.get_untagged_image_count(project.id) == 2


def test_tag_errors(training, project):
    training.create_tag(project.id, "apple")
    assert error_of(training.create_tag, project.id, "Apple").error.code == "BadRequestTagNameNotUnique"
    assert error_of(training.create_tag, project.id, "x", type="Weird").error.code == "BadRequestTagType"
    training.create_tag(project.id, "none of these", type="Negative")
    assert error_of(training.create_tag, project.id, "other", type="Negative").error.code == (
        "BadRequestMultipleNegativeTag"
    )
    missing = error_of(training.get_tag, project.id, "00000000-0000-0000-0000-000000000000")
    assert (missing.response.status_code, missing.error.code) == (404, "NotFoundTag")
    assert error_of(training.delete_tag, project.id, "00000000-0000-0000-0000-000000000000").error.code == (
        "NotFoundTag"
    )
    assert error_of(training.get_tags, "00000000-0000-0000-0000-000000000000").error.code == "NotFoundProject"
