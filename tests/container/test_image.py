"""localvision's container image, built with podman (or a build of the same inputs reused), run on a free
port with its state in a container of the tests' Azurite, and driven like the Microsoft Learn lab's client
scripts drive Custom Vision: the SDK clients on the server's root endpoint with the Training-key and
Prediction-key headers; train, publish, classify, export.

It skips where podman cannot run (podman, runc or mmdebstrap missing: a system tool, like chromium for the
console's browser tests); CI installs them from Debian (.ci/run).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)

from devstack import container as podman
from devstack import photos
from devstack.photos import TAGS, TEST_TAGS
from tests.conftest import PREDICTION_KEY, TRAINING_KEY
from tests.localvision.helpers import (
    COMPACT_DOMAIN,
    PREDICTION_RESOURCE_ID,
    predictor,
    trainer,
    wait_exported,
    wait_trained,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image() -> str:
    reason = podman.unavailable()
    if reason:
        pytest.skip(reason)
    return podman.build()


@pytest.fixture(scope="module")
def settings(azurite_conn_str: str) -> dict[str, str]:
    return {
        "LOCALVISION_TRAINING_KEY": TRAINING_KEY,
        "LOCALVISION_PREDICTION_KEY": PREDICTION_KEY,
        "LOCALVISION_STORE": "blob",
        "LOCALVISION_BLOB_CONTAINER": f"lv-image-{uuid.uuid4().hex[:8]}",
        "LOCALVISION_BLOB_CONNECTION_STRING": azurite_conn_str,
    }


@pytest.fixture(scope="module")
def running(image: str, settings: dict[str, str]) -> Iterator[podman.Container]:
    started = podman.run(image, settings)
    yield started
    started.stop()


def test_the_image_runs_as_a_user_without_torch_or_test_tools(image: str):
    probe = (
        "import importlib.util, os; "
        "print(os.getuid(), [m for m in ('torch', 'pytest', 'ruff', 'playwright') "
        "if importlib.util.find_spec(m)])"
    )
    out = podman.call("run", "--rm", *podman.LIMITS, image, "/opt/localvision/venv/bin/python", "-c", probe)
    assert out == "10001 []"


def test_health_answers_without_a_key_and_logs_go_to_stdout(running: podman.Container, settings):
    response = requests.get(f"{running.endpoint}/health", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    logs = running.logs()
    assert f"serving http://0.0.0.0:{running.port}" in logs
    assert f"store: blob {settings['LOCALVISION_BLOB_CONTAINER']}" in logs
    assert TRAINING_KEY not in logs and "AccountKey" not in logs


def test_train_publish_classify_export_as_the_lab_scripts_do(running: podman.Container, fruit_dir: Path):
    client = trainer(running.endpoint)  # the lab: Training-key header on the resource's endpoint
    project = client.create_project("Classify Fruit", domain_id=COMPACT_DOMAIN)
    tags = {name: client.create_tag(project.id, name).id for name in TAGS}
    entries = [
        ImageFileCreateEntry(name=photo.file, contents=photo.data, tag_ids=[tags[photo.tag]])
        for photo in photos.training(fruit_dir)
    ]
    assert client.create_images_from_files(
        project.id, ImageFileCreateBatch(images=entries)
    ).is_batch_successful
    iteration = wait_trained(client, project.id, client.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    client.publish_iteration(project.id, iteration.id, "fruit-classifier", PREDICTION_RESOURCE_ID)

    classifier = predictor(running.endpoint)  # the lab: Prediction-key header, the published name
    answers = {
        photo.file: classifier.classify_image(project.id, "fruit-classifier", photo.data)
        .predictions[0]
        .tag_name
        for photo in photos.test_photos(fruit_dir)
    }
    assert answers == TEST_TAGS

    client.export_iteration(project.id, iteration.id, "ONNX")
    export = wait_exported(client, project.id, iteration.id)
    assert export.status == "Done"
    archive = zipfile.ZipFile(io.BytesIO(requests.get(export.download_uri, timeout=60).content))
    assert {"model.onnx", "labels.txt"} <= set(archive.namelist())
    assert set(archive.read("labels.txt").decode().split()) == set(TAGS)
