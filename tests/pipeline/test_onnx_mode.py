"""Onnx mode (CLASSIFIER_MODE=onnx) against real Azurite: classify in-process from pipeline/models, with the
fruit head trained in-process and exported by localvision's exporter. The Custom Vision endpoints point at
a closed port: a document that came out right proves that no call went to the service."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import uuid
import zipfile

import numpy as np
import pytest
from azure.storage.blob import ContainerClient

from localvision.ml import Featurizer, TrainedModel, prepare_image
from localvision.ml.export import export_zip
from shared import catalogue
from shared.onnx.pointer import POINTER_BLOB, Label, ModelPointer, model_blob_name, store_model, zip_sha1
from shared.onnx.store import MODEL_REFRESH_SECONDS
from tests.export.conftest import FRUIT_TAGS, ITERATION_ID, TEST_PHOTOS, Photo
from tests.export.portal_zip import PORTAL_METADATA, legacy_model, portal_zip
from tests.localvision_model.out_of_class import OUT_OF_CLASS
from tests.pipeline.conftest import (
    base_settings,
    blob_input,
    containers,
    http_request,
    read_document,
    response_json,
    unique,
)

pytestmark = pytest.mark.slow
NO_SERVICE = "http://127.0.0.1:9"  # nothing listens: onnx mode must not call Custom Vision to classify
PROJECT_ID = "0c2a3b4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d"
TAG_IDS = {tag: str(uuid.uuid5(uuid.NAMESPACE_URL, tag)) for tag in FRUIT_TAGS}
OTHER_ITERATION = "8d1e2f30-4a5b-4c6d-8e7f-901a2b3c4d5e"


@pytest.fixture
def settings(azurite_conn_str: str) -> dict[str, str]:
    values = base_settings(azurite_conn_str, NO_SERVICE, unique("ox"))
    values["CLASSIFIER_MODE"] = "onnx"
    values["TRANSIENT_RETRY_SECONDS"] = "0"
    return values


@pytest.fixture(scope="module")
def other_zip(fruit_model: TrainedModel, feature_graph) -> bytes:
    """The same head exported as another iteration, ONNX12 flavor: another zip, another SHA-1."""
    return export_zip(
        fruit_model, FRUIT_TAGS, iteration_id=OTHER_ITERATION, flavor="ONNX12", features=feature_graph
    )


def place(pipeline: ContainerClient, data: bytes, iteration_id: str, **overrides: object) -> ModelPointer:
    """Store the zip and point current.json at it, as the retrain cycle's export step does."""
    values: dict = {
        "model_blob": model_blob_name(iteration_id),
        "sha1": zip_sha1(data),
        "iteration_id": iteration_id,
        "project_id": PROJECT_ID,
        "published_name": "fruit-classifier",
        "labels": [Label(tag, TAG_IDS[tag]) for tag in FRUIT_TAGS],
        "exported_at": "2026-11-30T12:00:00Z",
    }
    pointer = ModelPointer(**{**values, **overrides})
    store_model(pipeline, data, pointer)
    return pointer


def classify(app, stores, name: str, data: bytes) -> dict:
    stores["images"].upload_blob(name, data, overwrite=True)
    app.classify(blob_input(stores["images"], name))
    return read_document(stores["results"], f"{name}.json")


def test_all_54_photos_give_the_service_modes_top_tag_in_the_same_document(
    load_app,
    settings,
    azurite_conn_str,
    fruit_zip: bytes,
    fruit_model: TrainedModel,
    featurizer: Featurizer,
    all_photos: list[Photo],
) -> None:
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    place(stores["pipeline"], fruit_zip, ITERATION_ID)

    same_top, largest_difference = 0, 0.0
    for photo in all_photos:
        name = f"{photo.path.parent.name}/{photo.path.name}"
        doc = classify(app, stores, name, photo.data)
        assert doc["status"] == "ok", doc
        assert doc["model"] == {
            "projectId": PROJECT_ID,
            "publishedName": "fruit-classifier",
            "iterationId": ITERATION_ID,
            "source": "onnx",
        }
        assert [p["tagId"] for p in doc["predictions"]] == [TAG_IDS[p["tagName"]] for p in doc["predictions"]]
        assert doc["tags"] == [p["tagName"] for p in doc["predictions"] if p["probability"] >= 0.5]
        # service mode: localvision's classify of the same head (its decode, its featurizer), in-process
        service = fruit_model.predict(prepare_image(photo.data), featurizer)
        onnx = np.array(
            [next(p["probability"] for p in doc["predictions"] if p["tagName"] == t) for t in FRUIT_TAGS]
        )
        same_top += int(onnx.argmax() == service.argmax())
        largest_difference = max(largest_difference, float(np.abs(onnx - service).max()))
        reviewed = stores["review"].get_blob_client(name).exists()
        assert reviewed == (doc["predictions"][0]["probability"] < 0.6) == ("reviewReason" in doc)
    print(f"\nonnx mode vs service mode: {same_top}/{len(all_photos)} same top tag, "
          f"largest probability difference {largest_difference:.2g}")  # fmt: skip
    assert same_top == len(all_photos) == 54
    assert largest_difference < 0.01
    for name, fruit in TEST_PHOTOS.items():
        assert read_document(stores["results"], f"test-images/{name}.json")["tags"] == [fruit]


def test_out_of_class_photos_go_to_review_as_unknown(
    load_app, settings, azurite_conn_str, fruit_zip: bytes
) -> None:
    """The export's open-set score: a blue wall, a cat, a desk of rectangles score low for every fruit."""
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    place(stores["pipeline"], fruit_zip, ITERATION_ID)
    for stem in ("flat-blue-wall", "photo-chelsea", "desk-rectangles"):
        data = (OUT_OF_CLASS / f"{stem}.jpg").read_bytes()
        doc = classify(app, stores, f"odd/{stem}.jpg", data)
        assert doc["reviewReason"] == "unknown", doc
        assert doc["tags"] == [] and doc["predictions"][0]["probability"] < 0.3, doc
        assert stores["review"].download_blob(f"odd/{stem}.jpg").readall() == data


def test_quick_test_uses_the_same_model(load_app, settings, azurite_conn_str, fruit_dir, fruit_zip) -> None:
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    place(stores["pipeline"], fruit_zip, ITERATION_ID)
    photo = (fruit_dir / "test-images" / "IMG_TEST_3.jpg").read_bytes()
    response = app.classify_quick(
        http_request("POST", "classify", photo, headers={"Content-Type": "image/jpeg"})
    )
    assert response.status_code == 200
    doc = response_json(response)
    assert doc["model"]["source"] == "onnx" and doc["model"]["iterationId"] == ITERATION_ID
    assert doc["tags"] == ["orange"] and doc["source"] == {"size": len(photo), "upload": True}


def test_no_model_is_no_published_model_then_a_placed_model_is_used_at_once(
    load_app,
    settings,
    azurite_conn_str,
    fruit_dir,
    fruit_zip,
) -> None:
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    photo = (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes()

    doc = classify(app, stores, "first.jpg", photo)
    assert doc["status"] == "error"
    assert doc["error"] == {
        "code": "NoPublishedModel",
        "message": catalogue.text(
            "NoPublishedModel",
            publishedName="fruit-classifier",
            projectId=settings["CUSTOMVISION_PROJECT_NAME"],
        ),
        "retryable": False,
    }
    response = app.classify_quick(http_request("POST", "classify", photo, {"Content-Type": "image/jpeg"}))
    assert response.status_code == 409 and response_json(response)["error"]["code"] == "NoPublishedModel"

    place(stores["pipeline"], fruit_zip, ITERATION_ID)  # no wait: without a model every call looks again
    doc = classify(app, stores, "second.jpg", photo)
    assert doc["status"] == "ok" and doc["tags"] == ["apple"] and doc["model"]["iterationId"] == ITERATION_ID


def test_a_new_current_json_is_used_within_the_refresh_interval_and_a_bad_zip_keeps_the_previous(
    load_app,
    settings,
    azurite_conn_str,
    fruit_dir,
    fruit_zip,
    other_zip,
) -> None:
    assert MODEL_REFRESH_SECONDS <= 30
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    photo = (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes()
    place(stores["pipeline"], fruit_zip, ITERATION_ID)
    assert classify(app, stores, "a.jpg", photo)["model"]["iterationId"] == ITERATION_ID
    store = app.pipeline.model_store
    store.refresh_seconds = 0.5  # the production interval (15 s) shortened, not slept through

    place(stores["pipeline"], other_zip, OTHER_ITERATION)
    time.sleep(0.6)
    doc = classify(app, stores, "b.jpg", photo)
    assert doc["model"]["iterationId"] == OTHER_ITERATION and doc["tags"] == ["banana"]

    # a damaged zip (one byte of the model changed): refused, the model in use stays
    damaged = _damaged(fruit_zip)
    place(stores["pipeline"], damaged, "0f0f0f0f-0000-4000-8000-000000000000")
    time.sleep(0.6)
    doc = classify(app, stores, "c.jpg", photo)
    assert doc["status"] == "ok" and doc["model"]["iterationId"] == OTHER_ITERATION

    # a fresh instance with only the damaged zip: an error document naming what is wrong
    fresh = load_app(settings)
    doc = classify(fresh, stores, "d.jpg", photo)
    assert doc["status"] == "error" and doc["error"]["code"] == "ModelRefused"
    assert "model.onnx has SHA-1" in doc["error"]["message"]
    assert doc["error"]["message"].startswith("The new model was refused and the model in use before it")
    assert doc["error"]["message"].endswith(
        "export the iteration again from Custom Vision (platform ONNX) and store the new zip"
    )


def test_an_unchanged_current_json_keeps_the_model_after_the_refresh_interval(
    load_app, settings, azurite_conn_str, fruit_dir, fruit_zip
) -> None:
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    photo = (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes()
    place(stores["pipeline"], fruit_zip, ITERATION_ID)
    assert classify(app, stores, "a.jpg", photo)["model"]["iterationId"] == ITERATION_ID
    app.pipeline.model_store.refresh_seconds = 0.2
    time.sleep(0.3)
    # the conditional read finds current.json unchanged: a 304, which the storage SDK may raise as a 412 error
    doc = classify(app, stores, "b.jpg", photo)
    assert doc["status"] == "ok" and doc["model"]["iterationId"] == ITERATION_ID


def _damaged(data: bytes) -> bytes:
    """The zip with one byte of model.onnx flipped, the manifest unchanged (its ModelFileSHA1 now wrong)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "model.onnx":
                content = content[:-10] + bytes([content[-10] ^ 0xFF]) + content[-9:]
            out.writestr(item.filename, content)
    return buffer.getvalue()


def test_a_zip_from_the_portal_written_by_hand_works_the_same(
    load_app,
    settings,
    azurite_conn_str,
    fruit_dir,
    fruit_zip,
) -> None:
    """The portal's layout (its manifest, ByShorterSide / OneCropCenter metadata) around the fruit graph,
    stored with plain blob writes as docs/onnx.md says, current.json with only the required fields."""
    with zipfile.ZipFile(io.BytesIO(fruit_zip)) as exported:
        graph = exported.read("model.onnx")
    portal = portal_zip(graph, FRUIT_TAGS, metadata=PORTAL_METADATA)
    stores = containers(azurite_conn_str, settings)
    stores["pipeline"].upload_blob("models/from-portal.zip", portal)
    pointer = {"modelBlob": "models/from-portal.zip", "sha1": hashlib.sha1(portal).hexdigest()}
    stores["pipeline"].upload_blob(POINTER_BLOB, json.dumps(pointer))
    app = load_app(settings)

    for name, fruit in TEST_PHOTOS.items():
        doc = classify(app, stores, name, (fruit_dir / "test-images" / name).read_bytes())
        assert doc["tags"] == [fruit], doc
        assert doc["predictions"][0]["probability"] >= 0.9
        # no project, no tag ids: the iteration from the zip's manifest, PUBLISHED_NAME, null ids
        assert doc["model"] == {
            "projectId": None,
            "publishedName": "fruit-classifier",
            "iterationId": "3d544838-88de-4561-9822-a3849df931f9",
            "source": "onnx",
        }
        assert {p["tagId"] for p in doc["predictions"]} == {None}


def test_a_legacy_portal_zip_is_refused_with_a_clear_error(
    load_app, settings, azurite_conn_str, fruit_dir
) -> None:
    legacy = portal_zip(legacy_model({"Image.BitmapPixelFormat": "Rgb8"}), ["a", "b", "c"])
    stores = containers(azurite_conn_str, settings)
    stores["pipeline"].upload_blob("models/legacy.zip", legacy)
    stores["pipeline"].upload_blob(POINTER_BLOB, json.dumps({"modelBlob": "models/legacy.zip"}))
    app = load_app(settings)

    doc = classify(app, stores, "x.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())
    reason = catalogue.text(
        "ModelOutputUnsupported",
        detail="it has the outputs classLabel and loss of an older Custom Vision export, not model_output",
    )
    assert doc["error"] == {
        "code": "ModelRefused",
        "message": catalogue.text("ModelRefused", reason=reason),
        "retryable": False,
    }


@pytest.mark.parametrize(
    ("pointer", "detail"),
    [
        ("not json", "it is not JSON"),
        ({"sha1": "abc"}, "$: modelBlob is missing"),
        ({"modelBlob": "../images/x.zip"}, "modelBlob must name a blob under models/"),
        ({"modelBlob": "models/none.zip"}, "modelBlob names models/none.zip, which is not in the container"),
    ],
    ids=["not-json", "no-model-blob", "outside-models", "missing-zip"],
)
def test_a_bad_current_json_is_an_error_document_naming_the_problem(
    load_app, settings, azurite_conn_str, fruit_dir, pointer, detail
) -> None:
    stores = containers(azurite_conn_str, settings)
    body = pointer if isinstance(pointer, str) else json.dumps(pointer)
    stores["pipeline"].upload_blob(POINTER_BLOB, body)
    app = load_app(settings)
    doc = classify(app, stores, "y.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())
    reason = catalogue.text("ModelPointerInvalid", detail=detail)
    assert doc["error"]["code"] == "ModelRefused"
    assert doc["error"]["message"] == catalogue.text("ModelRefused", reason=reason)


def test_labels_that_do_not_match_the_zip_are_refused(
    load_app,
    settings,
    azurite_conn_str,
    fruit_dir,
    fruit_zip: bytes,
) -> None:
    stores = containers(azurite_conn_str, settings)
    place(stores["pipeline"], fruit_zip, ITERATION_ID, labels=[Label("apple", None), Label("pear", None)])
    app = load_app(settings)
    doc = classify(app, stores, "z.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes())
    reason = catalogue.text(
        "ModelPointerInvalid", detail="its labels are not the tags listed in the zip's labels.txt"
    )
    assert doc["error"]["message"] == catalogue.text("ModelRefused", reason=reason)


def test_concurrent_invocations_load_the_model_once(load_app, settings, azurite_conn_str, fruit_zip) -> None:
    place(containers(azurite_conn_str, settings)["pipeline"], fruit_zip, ITERATION_ID)
    store = load_app(settings).pipeline.model_store
    start = threading.Barrier(6)
    models = []

    def invocation() -> None:
        start.wait()
        models.append(store.current())

    threads = [threading.Thread(target=invocation) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(models) == 6 and all(model is models[0] for model in models)
    assert models[0].sha1 == zip_sha1(fruit_zip)
