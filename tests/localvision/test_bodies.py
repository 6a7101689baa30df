"""Each JSON-taking operation answers a body of the wrong shape with 400 and the service's code, not 500."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import PREDICTION_KEY, TRAINING_KEY

MISSING = "00000000-0000-0000-0000-000000000000"
TRAINING = "/customvision/v3.4-preview/training/projects/{project}"
PREDICTION = "/customvision/v3.1/prediction/{project}/classify/iterations/model"
URLS = f"{TRAINING}/images/urls"
FILES = f"{TRAINING}/images/files"
TAGS = f"{TRAINING}/images/tags"
METADATA = f"{TRAINING}/images/metadata?imageIds={MISSING}"

# (method, path, body, code, what the message must say)
CASES = [
    ("POST", URLS, {"images": 5}, "BadRequestImageBatch", "'images' must be a list of objects"),
    ("POST", URLS, {"images": [None]}, "BadRequestImageBatch", "'images[0]' must be an object"),
    ("POST", URLS, {"images": [{"url": 5}]}, "BadRequestImageBatch", "'images[0].url' must be a string"),
    ("POST", URLS, {"images": [{"url": "x", "tagIds": "t"}]}, "BadRequestImageBatch", "'images[0].tagIds'"),
    (
        "POST",
        URLS,
        {"images": [], "tagIds": [1]},
        "BadRequestImageBatch",
        "'tagIds' must be a list of strings",
    ),
    ("POST", URLS, {"images": [], "metadata": 5}, "BadRequestImageBatch", "'metadata' must be an object"),
    ("POST", URLS, [1, 2], "BadRequestImageBatch", "The body must be a JSON object"),
    ("POST", FILES, {"images": "x"}, "BadRequestImageBatch", "'images' must be a list of objects"),
    ("POST", FILES, {"images": [1]}, "BadRequestImageBatch", "'images[0]' must be an object"),
    ("POST", FILES, {"images": [{"contents": 5}]}, "BadRequestImageBatch", "'images[0].contents'"),
    ("POST", FILES, {"images": [{"name": {}, "contents": ""}]}, "BadRequestImageBatch", "'images[0].name'"),
    ("POST", FILES, "x", "BadRequestImageBatch", "The body must be a JSON object"),
    ("POST", TAGS, {"tags": 5}, "BadRequest", "'tags' must be a list of objects"),
    ("POST", TAGS, {"tags": [None]}, "BadRequest", "'tags[0]' must be an object"),
    (
        "POST",
        TAGS,
        {"tags": [{"imageId": 5, "tagId": "t"}]},
        "BadRequest",
        "'tags[0].imageId' must be a string",
    ),
    ("POST", TAGS, {"tags": [{}]}, "BadRequest", "'tags[0]' must be an object with imageId and tagId"),
    ("POST", METADATA, [1], "BadRequest", "The body must be a JSON object"),
    ("POST", METADATA, {"k": 5}, "BadRequestImageMetadataValue", "Metadata values must be strings"),
    ("PATCH", TRAINING, {"name": 5}, "BadRequest", "'name' must be a string"),
    ("PATCH", TRAINING, {"settings": "x"}, "BadRequest", "'settings' must be an object"),
    ("PATCH", TRAINING, {"settings": {"domainId": 5}}, "BadRequest", "'settings.domainId' must be a string"),
    (
        "PATCH",
        TRAINING,
        {"settings": {"imageProcessingSettings": 1}},
        "BadRequest",
        "imageProcessingSettings",
    ),
    ("PATCH", f"{TRAINING}/tags/{MISSING}", {"name": [1]}, "BadRequest", "'name' must be a string"),
    ("PATCH", f"{TRAINING}/tags/{MISSING}", {"type": 5}, "BadRequest", "'type' must be a string"),
    ("PATCH", f"{TRAINING}/tags/{MISSING}", 7, "BadRequest", "The body must be a JSON object"),
    (
        "POST",
        f"{TRAINING}/train",
        {"selectedTags": "x"},
        "BadRequest",
        "'selectedTags' must be a list of strings",
    ),
    (
        "POST",
        f"{TRAINING}/train",
        {"selectedTags": [1]},
        "BadRequest",
        "'selectedTags' must be a list of strings",
    ),
    ("PATCH", f"{TRAINING}/iterations/{MISSING}", {"name": 5}, "BadRequest", "'name' must be a string"),
    ("PATCH", f"{TRAINING}/iterations/{MISSING}", "x", "BadRequest", "The body must be a JSON object"),
    ("POST", f"{TRAINING}/quicktest/url", {"url": 5}, "BadRequestImageUrl", "The body must be"),
    ("POST", f"{TRAINING}/quicktest/url", [5], "BadRequestImageUrl", "The body must be a JSON object"),
    ("POST", "/customvision/v3.4-preview/training/projects?name=p", 5, "BadRequest", "JSON object"),
    ("POST", f"{PREDICTION}/url", {"url": 5}, "BadRequestImageUrl", "The body must be"),
    ("POST", f"{PREDICTION}/url/nostore", {"url": ["x"]}, "BadRequestImageUrl", "The body must be"),
    ("POST", f"{PREDICTION}/url", "x", "BadRequestImageUrl", "The body must be a JSON object"),
]


@pytest.mark.parametrize(("method", "path", "body", "code", "says"), CASES)
def test_wrong_shape_body_is_a_400_with_the_service_code(
    localvision_endpoint, project, method, path, body, code, says
):
    key = {"Prediction-Key": PREDICTION_KEY} if "/prediction/" in path else {"Training-Key": TRAINING_KEY}
    response = requests.request(
        method, localvision_endpoint + path.format(project=project.id), headers=key, json=body, timeout=10
    )
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == code
    assert says in error["message"]
    assert "object at 0x" not in error["message"] and "Traceback" not in error["message"]


@pytest.mark.parametrize("body", [b'{"images": [', b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe"])
def test_invalid_json_is_a_400_that_names_no_python_error(localvision_endpoint, project, body):
    response = requests.post(
        localvision_endpoint + URLS.format(project=project.id),
        headers={"Training-Key": TRAINING_KEY, "Content-Type": "application/json"},
        data=body,
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "BadRequest",
        "message": "The request body is not valid JSON: send a JSON object",
    }
