"""Wire compatibility: keys, base paths and versions, raw-path routing, error bodies, request forms."""

from __future__ import annotations

import pytest
import requests
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException

from tests.conftest import PREDICTION_KEY, TRAINING_KEY
from tests.localvision.helpers import FOOD_DOMAIN, predictor, trainer


@pytest.mark.parametrize("key", ["wrong-key", ""])
def test_wrong_or_missing_training_key_is_access_denied(localvision_endpoint, key):
    client = trainer(localvision_endpoint, key=key)
    with pytest.raises(CustomVisionErrorException) as caught:
        client.get_projects()
    response = caught.value.response
    assert response.status_code == 401
    assert response.reason == "Access Denied"
    assert "Access Denied" in str(caught.value)
    assert response.json()["error"]["code"] == "401"


def test_prediction_key_does_not_open_training(localvision_endpoint):
    with pytest.raises(CustomVisionErrorException) as caught:
        trainer(localvision_endpoint, key=PREDICTION_KEY).get_domains()
    assert caught.value.response.status_code == 401


def test_wrong_prediction_key_is_access_denied(localvision_endpoint, training):
    project = training.create_project("keys")
    try:
        with pytest.raises(Exception) as caught:
            predictor(localvision_endpoint, key=TRAINING_KEY).classify_image(project.id, "x", b"data")
        assert caught.value.response.status_code == 401
        assert caught.value.response.reason == "Access Denied"
    finally:
        training.delete_project(project.id)


@pytest.mark.parametrize("header", ["Training-Key", "training-key", "TRAINING-KEY", "Training-key"])
def test_key_header_name_is_case_insensitive(localvision_endpoint, header):
    assert trainer(localvision_endpoint, header=header).get_domains()


@pytest.mark.parametrize("version", ["v3.0", "v3.1", "v3.2", "v3.3", "v3.4-preview"])
def test_training_versions_and_case_insensitive_segments(localvision_endpoint, version):
    for surface in ("training", "Training", "TRAINING"):
        url = f"{localvision_endpoint}/customvision/{version}/{surface}/Domains/{FOOD_DOMAIN}"
        response = requests.get(url, headers={"Training-Key": TRAINING_KEY}, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Food"
        assert response.headers["content-type"].startswith("application/json")


def test_endpoint_with_path_prefix_and_trailing_slash(localvision_endpoint):
    assert trainer(localvision_endpoint + "/").get_domain(FOOD_DOMAIN).name == "Food"
    response = requests.get(
        f"{localvision_endpoint}/some/prefix/customvision/v3.3/training/domains",
        headers={"training-key": TRAINING_KEY},
        timeout=10,
    )
    assert response.status_code == 200 and len(response.json()) >= 12


def test_prediction_v30_and_v31_paths_are_served(localvision_endpoint):
    for version in ("v3.0", "v3.1", "V3.1"):
        base = f"{localvision_endpoint}/customvision/{version}/Prediction"
        url = f"{base}/00000000-0000-0000-0000-000000000000/classify/iterations/x/image"
        response = requests.post(url, headers={"Prediction-Key": PREDICTION_KEY}, data=b"x", timeout=10)
        assert response.status_code == 404
        assert response.json()["code"] == "NotFoundProject"


def test_unknown_paths_and_versions_answer_json_errors(localvision_endpoint):
    headers = {"Training-Key": TRAINING_KEY}
    for path in (
        "/nothing",
        "/customvision/v9.9/training/domains",
        "/customvision/v3.3/training/nothing/here",
    ):
        response = requests.get(localvision_endpoint + path, headers=headers, timeout=10)
        assert response.status_code == 404
        assert response.json()["code"] == "NotFound" and response.json()["message"]


def test_wrong_method_is_refused_with_a_body(localvision_endpoint):
    response = requests.put(
        f"{localvision_endpoint}/customvision/v3.3/training/domains",
        headers={"Training-Key": TRAINING_KEY},
        timeout=10,
    )
    assert response.status_code == 405
    assert response.json()["code"]


def test_get_domains_lists_the_documented_domains(training):
    domains = {(d.type, d.name): d for d in training.get_domains()}
    assert domains[("Classification", "Food")].id == FOOD_DOMAIN
    assert domains[("Classification", "General")].id == "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
    assert domains[("ObjectDetection", "General")].id == "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
    assert domains[("Classification", "General (compact)")].exportable is True
    assert domains[("Classification", "General")].exportable is False
    food = training.get_domain(FOOD_DOMAIN.upper())
    assert (food.name, food.type, food.enabled) == ("Food", "Classification", True)


def test_unknown_domain_is_not_found(training):
    with pytest.raises(CustomVisionErrorException) as caught:
        training.get_domain("11111111-1111-1111-1111-111111111111")
    assert caught.value.error.code == "NotFoundDomain"
    assert caught.value.response.status_code == 404


def test_percent_encoded_slash_stays_inside_the_path_parameter(localvision_endpoint, training):
    """The SDK encodes '/' in a published name as %2F: it must not split the path."""
    project = training.create_project("encoding")
    try:
        with pytest.raises(Exception) as caught:
            predictor(localvision_endpoint).classify_image(project.id, "a/b c", b"data")
        assert caught.value.response.status_code == 404
        assert caught.value.error.code == "NotFoundIteration"
        assert "%2F" in caught.value.response.request.url
    finally:
        training.delete_project(project.id)


def test_ids_are_lowercase_guids_and_datetimes_end_in_z(localvision_endpoint, training):
    project = training.create_project("format")
    try:
        raw = requests.get(
            f"{localvision_endpoint}/customvision/v3.4-preview/training/projects/{project.id.upper()}",
            headers={"Training-Key": TRAINING_KEY},
            timeout=10,
        ).json()
        assert raw["id"] == raw["id"].lower() and len(raw["id"]) == 36
        assert raw["created"].endswith("Z") and raw["lastModified"].endswith("Z")
        assert raw["description"] == ""
        tag = requests.post(
            f"{localvision_endpoint}/customvision/v3.4-preview/training/projects/{project.id}/tags?name=t",
            headers={"Training-Key": TRAINING_KEY},
            timeout=10,
        ).json()
        assert tag["description"] == "" and tag["imageCount"] == 0
    finally:
        training.delete_project(project.id)
