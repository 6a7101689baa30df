"""The classify path against real Azurite and a real localvision: result documents field by field,
idempotency, the review copy, and each error path (permanent -> error document; transient -> raised)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import re
import threading
import time
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from PIL import Image

from devstack import localvision
from devstack.vision import PREDICTION_KEY, TRAINING_KEY
from shared import catalogue
from shared.errors import TransientError
from tests.localvision_model.out_of_class import OUT_OF_CLASS
from tests.pipeline.conftest import (
    base_settings,
    blob_input,
    containers,
    read_document,
    train_and_publish,
    trainer,
    unique,
)

ETAG = re.compile(r'^"?0x[0-9A-F]+"?$')
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def fruit_project(localvision_endpoint: str, fruit_dir: Path) -> tuple[str, str]:
    """A project with a published fruit model on the session localvision: (name, id)."""
    name = unique("Classify Fruit classify ")
    return name, train_and_publish(localvision_endpoint, name, fruit_dir)


@pytest.fixture
def settings(
    azurite_conn_str: str, localvision_endpoint: str, fruit_project: tuple[str, str]
) -> dict[str, str]:
    values = base_settings(azurite_conn_str, localvision_endpoint, unique("cl"))
    values["CUSTOMVISION_PROJECT_NAME"] = fruit_project[0]
    return values


def result_of(stores: dict, name: str) -> dict:
    return read_document(stores["results"], f"{name}.json")


def test_classifies_a_photo_into_a_complete_result_document(
    load_app, settings, azurite_conn_str, fruit_dir, fruit_project
):
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    photo = (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes()
    stores["images"].upload_blob("2026/11/IMG_TEST_1.jpg", photo)
    stream = blob_input(stores["images"], "2026/11/IMG_TEST_1.jpg")
    stored_at = stores["images"].get_blob_client("2026/11/IMG_TEST_1.jpg").get_blob_properties().last_modified

    app.classify(stream)

    doc = result_of(stores, "2026/11/IMG_TEST_1.jpg")
    assert list(doc) == [
        "schemaVersion", "status", "blob", "model", "threshold", "tags", "predictions", "classifiedAt",
    ]  # fmt: skip
    assert doc["schemaVersion"] == 1 and doc["status"] == "ok"
    assert doc["blob"] == {
        "container": settings["IMAGES_CONTAINER"],
        "name": "2026/11/IMG_TEST_1.jpg",
        "etag": stream.blob_properties["ETag"],
        "size": len(photo),
        "lastModified": stored_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert ETAG.match(doc["blob"]["etag"])
    assert doc["model"]["projectId"] == fruit_project[1]
    assert doc["model"]["publishedName"] == "fruit-classifier"
    assert uuid.UUID(doc["model"]["iterationId"])
    assert doc["model"]["source"] == "service"
    assert (
        doc["model"]["endpoint"] == settings["CUSTOMVISION_PREDICTION_ENDPOINT"].split("://")[1]
    )  # who answered
    assert doc["threshold"] == 0.5
    assert doc["tags"] == ["apple"]
    probabilities = [p["probability"] for p in doc["predictions"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert {p["tagName"] for p in doc["predictions"]} == {"apple", "banana", "orange"}
    assert all(
        set(p) == {"tagName", "tagId", "probability"} and uuid.UUID(p["tagId"]) for p in doc["predictions"]
    )
    assert doc["predictions"][0]["tagName"] == "apple" and doc["predictions"][0]["probability"] >= 0.9
    assert TIMESTAMP.match(doc["classifiedAt"])
    # confident: no review copy
    assert not stores["review"].get_blob_client("2026/11/IMG_TEST_1.jpg").exists()


def test_second_run_on_the_same_etag_changes_nothing(load_app, settings, azurite_conn_str, fruit_dir):
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    stores["images"].upload_blob("banana.jpg", (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes())
    app.classify(blob_input(stores["images"], "banana.jpg"))
    first = stores["results"].get_blob_client("banana.jpg.json").get_blob_properties()

    app.classify(blob_input(stores["images"], "banana.jpg"))

    again = stores["results"].get_blob_client("banana.jpg.json").get_blob_properties()
    assert again.etag == first.etag  # not rewritten
    assert result_of(stores, "banana.jpg")["tags"] == ["banana"]


def test_an_overwritten_image_gets_a_new_document(load_app, settings, azurite_conn_str, fruit_dir):
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    stores["images"].upload_blob("fruit.jpg", (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes())
    app.classify(blob_input(stores["images"], "fruit.jpg"))
    stores["images"].upload_blob(
        "fruit.jpg", (fruit_dir / "test-images" / "IMG_TEST_3.jpg").read_bytes(), overwrite=True
    )
    stream = blob_input(stores["images"], "fruit.jpg")

    app.classify(stream)

    doc = result_of(stores, "fruit.jpg")
    assert doc["blob"]["etag"] == stream.blob_properties["ETag"]
    assert doc["tags"] == ["orange"]


def test_etag_is_read_from_storage_when_the_trigger_gives_none(
    load_app, settings, azurite_conn_str, fruit_dir
):
    import azure.functions as func

    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    data = (fruit_dir / "test-images" / "IMG_TEST_3.jpg").read_bytes()
    stores["images"].upload_blob("orange.jpg", data)
    etag = stores["images"].get_blob_client("orange.jpg").get_blob_properties().etag
    stream = func.blob.InputStream(
        data=data, name=f"{settings['IMAGES_CONTAINER']}/orange.jpg", length=len(data)
    )

    app.classify(stream)

    assert result_of(stores, "orange.jpg")["blob"]["etag"] == etag


def test_low_confidence_images_are_copied_for_review(load_app, settings, azurite_conn_str, fruit_dir):
    settings["REVIEW_THRESHOLD"] = "1.0"  # every real probability is below 1.0
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    data = (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes()
    stores["images"].upload_blob("a/apple.jpg", data)

    app.classify(blob_input(stores["images"], "a/apple.jpg"))

    assert stores["review"].download_blob("a/apple.jpg").readall() == data
    doc = result_of(stores, "a/apple.jpg")
    assert doc["status"] == "ok" and doc["reviewReason"] == "low_confidence", doc


def test_an_image_like_no_tag_goes_to_review_as_unknown(load_app, settings, azurite_conn_str, fruit_dir):
    """localvision's open-set score: a plain blue wall scores low for every fruit (the default threshold),
    a fruit photo stays out of review and its document has no reason."""
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    wall = (OUT_OF_CLASS / "flat-blue-wall.jpg").read_bytes()
    apple = (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes()
    stores["images"].upload_blob("wall.jpg", wall)
    stores["images"].upload_blob("apple.jpg", apple)

    app.classify(blob_input(stores["images"], "wall.jpg"))
    app.classify(blob_input(stores["images"], "apple.jpg"))

    doc = result_of(stores, "wall.jpg")
    assert doc["reviewReason"] == "unknown" and doc["tags"] == [], doc
    assert sum(p["probability"] for p in doc["predictions"]) < 0.3, doc
    assert stores["review"].download_blob("wall.jpg").readall() == wall
    fruit = result_of(stores, "apple.jpg")
    assert fruit["tags"] == ["apple"] and "reviewReason" not in fruit, fruit
    assert not stores["review"].get_blob_client("apple.jpg").exists()


def test_webp_with_exif_rotation_is_normalised_and_classified(
    load_app, settings, azurite_conn_str, fruit_dir
):
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    photo = Image.open(fruit_dir / "test-images" / "IMG_TEST_2.jpg")
    rotated = photo.rotate(90, expand=True)  # stored sideways; EXIF orientation 8 turns it upright again
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    rotated.transpose(Image.Transpose.ROTATE_180).save(out, "WEBP", exif=exif.tobytes())
    stores["images"].upload_blob("banana.webp", out.getvalue())

    app.classify(blob_input(stores["images"], "banana.webp"))

    doc = result_of(stores, "banana.webp")
    assert doc["status"] == "ok", doc
    assert doc["tags"] == ["banana"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"%PDF-1.7 this is not an image", "NotAnImage"),
        (b"", "NotAnImage"),
        ("tiny", "ImageTooSmall"),
    ],
)
def test_bad_inputs_end_in_one_error_document(load_app, settings, azurite_conn_str, data, code):
    if data == "tiny":
        out = io.BytesIO()
        Image.new("RGB", (20, 20), "red").save(out, "PNG")
        data = out.getvalue()
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    stores["images"].upload_blob("bad.bin", data)
    stream = blob_input(stores["images"], "bad.bin")

    app.classify(stream)  # returns normally: a permanent error is not retried

    doc = result_of(stores, "bad.bin")
    assert list(doc) == ["schemaVersion", "status", "blob", "error", "classifiedAt"]
    assert doc["status"] == "error"
    assert doc["blob"]["etag"] == stream.blob_properties["ETag"]
    assert doc["error"]["code"] == code
    assert doc["error"]["retryable"] is False
    assert doc["error"]["message"]


def test_no_published_model_is_an_error_document(load_app, azurite_conn_str, localvision_endpoint, fruit_dir):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("np"))
    project = unique("Unpublished ")
    project_id = trainer(localvision_endpoint).create_project(project).id
    settings["CUSTOMVISION_PROJECT_ID"] = project_id
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    stores["images"].upload_blob("x.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())

    app.classify(blob_input(stores["images"], "x.jpg"))

    error = result_of(stores, "x.jpg")["error"]
    assert error["code"] == "NoPublishedModel"
    assert "PUBLISHED_NAME" in error["message"] and "retrain" in error["message"]
    assert error["retryable"] is False


@pytest.mark.parametrize(
    ("override", "named_setting"),
    [
        ({"CUSTOMVISION_PROJECT_ID": str(uuid.uuid4())}, "CUSTOMVISION_PROJECT_ID"),
        ({}, "CUSTOMVISION_PROJECT_NAME"),  # a fresh name that no project has
    ],
)
def test_a_missing_project_is_an_error_document_naming_the_setting(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir, override, named_setting
):
    settings = {**base_settings(azurite_conn_str, localvision_endpoint, unique("pm")), **override}
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    stores["images"].upload_blob("x.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())

    app.classify(blob_input(stores["images"], "x.jpg"))

    error = result_of(stores, "x.jpg")["error"]
    assert error["code"] == "ProjectNotFound"
    assert named_setting in error["message"]


def test_a_wrong_prediction_key_is_an_error_document_without_the_key(
    load_app, settings, azurite_conn_str, fruit_dir, caplog
):
    caplog.set_level(logging.DEBUG)
    settings["CUSTOMVISION_PREDICTION_KEY"] = "wrong-key-value-123"
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    stores["images"].upload_blob("x.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())

    app.classify(blob_input(stores["images"], "x.jpg"))

    raw = stores["results"].download_blob("x.jpg.json").readall().decode()
    assert read_document(stores["results"], "x.jpg.json")["error"]["code"] == "AuthenticationFailed"
    assert "CUSTOMVISION_PREDICTION_KEY" in raw
    assert "wrong-key-value-123" not in raw
    assert (
        "wrong-key-value-123" not in caplog.text and settings["CUSTOMVISION_TRAINING_KEY"] not in caplog.text
    )
    assert "CUSTOMVISION_PREDICTION_KEY" in caplog.text  # the error was logged, without the key


@pytest.fixture(scope="module")
def fruit_data(tmp_path_factory: pytest.TempPathFactory, fruit_dir: Path) -> tuple[Path, str]:
    """A localvision data folder holding a published fruit model, and its project's name: trained once for
    the tests that copy it into a localvision with faults (the faults would get in the way of training)."""
    data = tmp_path_factory.mktemp("fruit") / "data"
    service = localvision.start(data, TRAINING_KEY, PREDICTION_KEY, in_process=True)
    try:
        name = unique("Faulty ")
        train_and_publish(f"http://127.0.0.1:{service.ports['http']}", name, fruit_dir)
    finally:
        service.stop()
    return data, name


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("429:1.0", "Throttled"),
        ("500:1.0", "ServiceError"),
        ("drop:1.0", "ServiceUnavailable"),  # the connection is dropped without an answer
        ("slow:1.0", "ServiceUnavailable"),  # answers after 3 s; CUSTOMVISION_TIMEOUT_SECONDS is 0.5
    ],
)
def test_transient_failures_are_retried_then_raised_and_poison_writes_one_document(
    load_app, azurite_conn_str, extra_localvision, fruit_data, fruit_dir, fault, code
):
    data, name = fruit_data
    endpoint = extra_localvision("--faults", fault, "--fault-slow-seconds", "3", data_from=data)
    settings = base_settings(azurite_conn_str, endpoint, unique("tf"))
    settings.update(
        CUSTOMVISION_PROJECT_NAME=name, TRANSIENT_RETRY_SECONDS="1.5", CUSTOMVISION_TIMEOUT_SECONDS="0.5"
    )
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    stores["images"].upload_blob("x.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())
    stream = blob_input(stores["images"], "x.jpg")

    with pytest.raises(TransientError) as raised:
        app.classify(stream)

    assert raised.value.code == code
    with pytest.raises(ResourceNotFoundError):
        stores["results"].download_blob("x.jpg.json").readall()  # nothing written: the host will retry

    # After the host's last try it puts this message on webjobs-blobtrigger-poison.
    import azure.functions as func

    poison = {
        "FunctionId": "app.Functions.classify",
        "BlobType": "BlockBlob",
        "ContainerName": settings["IMAGES_CONTAINER"],
        "BlobName": "x.jpg",
        "ETag": stream.blob_properties["ETag"],
    }
    message = func.queue.QueueMessage(id="1", body=json.dumps(poison))
    app.classify_poison(message)
    app.classify_poison(message)  # a second delivery changes nothing

    doc = result_of(stores, "x.jpg")
    assert doc["status"] == "error"
    assert doc["blob"]["etag"] == stream.blob_properties["ETag"]
    assert doc["error"]["code"] == "RetriesExhausted" and doc["error"]["retryable"] is True


def test_poison_message_for_an_already_classified_blob_changes_nothing(
    load_app, settings, azurite_conn_str, fruit_dir
):
    import azure.functions as func

    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    stores["images"].upload_blob("x.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())
    stream = blob_input(stores["images"], "x.jpg")
    app.classify(stream)
    before = stores["results"].get_blob_client("x.jpg.json").get_blob_properties().etag
    poison = {
        "ContainerName": settings["IMAGES_CONTAINER"],
        "BlobName": "x.jpg",
        "ETag": stream.blob_properties["ETag"],
    }

    app.classify_poison(func.queue.QueueMessage(id="1", body=json.dumps(poison)))

    assert stores["results"].get_blob_client("x.jpg.json").get_blob_properties().etag == before
    assert result_of(stores, "x.jpg")["status"] == "ok"


def test_an_image_name_too_long_for_its_result_name_gets_a_name_too_long_document(
    load_app, settings, azurite_conn_str, fruit_dir
):
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    name = "d/" + "x" * (1024 - len("d/") - 4) + ".jpg"  # 1,024 characters: the longest blob name
    stores["images"].upload_blob(name, (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())
    stream = blob_input(stores["images"], name)

    app.classify(stream)
    app.classify(stream)  # a second delivery changes nothing

    short = f"long-names/{hashlib.sha256(name.encode()).hexdigest()}.json"
    assert [b.name for b in stores["results"].list_blobs()] == [short]
    doc = read_document(stores["results"], short)
    assert doc["status"] == "error" and doc["blob"]["name"] == name
    assert doc["blob"]["etag"] == stream.blob_properties["ETag"]
    assert doc["error"] == {
        "code": "NameTooLong",
        "message": catalogue.text("NameTooLong", length=1024, limit=1024, maximum=1019),
        "retryable": False,
    }


@pytest.fixture(scope="module")
def large_noise_jpeg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 6000 x 4000 noise JPEG (about 20 MB): slow to decode and to shrink under 4 MB."""
    path = tmp_path_factory.mktemp("large") / "noise.jpg"
    noise = Image.merge("RGB", [Image.effect_noise((6000, 4000), 120) for _ in range(3)])
    noise.save(path, "JPEG", quality=95)
    return path.read_bytes()


@pytest.mark.slow
def test_the_final_document_describes_the_latest_version_whichever_run_finishes_last(
    load_app, settings, azurite_conn_str, fruit_dir, large_noise_jpeg
):
    """A slow large image, then the same name overwritten with a small photo 0.3-1.1 s later; the small
    version's run finishes first. Each trial's final document must describe the latest ETag."""
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    photo = (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes()
    rng = random.Random(8)
    outcomes, failures = [], []

    def classify_old(stream) -> None:
        try:
            app.classify(stream)
        except Exception as exc:  # reported below: the old run must end normally too
            failures.append(exc)

    for trial in range(8):
        name = f"r{trial}.jpg"
        stores["images"].upload_blob(name, large_noise_jpeg)
        old = threading.Thread(target=classify_old, args=(blob_input(stores["images"], name),))
        old.start()
        time.sleep(rng.uniform(0.3, 1.1))
        stores["images"].upload_blob(name, photo, overwrite=True)
        latest = blob_input(stores["images"], name)
        app.classify(latest)
        old.join()
        doc = result_of(stores, name)
        outcomes.append((doc["blob"]["etag"] == latest.blob_properties["ETag"], doc["blob"]["size"]))
    assert outcomes == [(True, len(photo))] * 8 and failures == []
