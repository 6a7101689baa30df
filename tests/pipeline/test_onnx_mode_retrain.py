"""The retrain cycle in onnx mode against real Azurite and a real localvision: after publishing, the
export step exports the iteration, stores the zip and points current.json at it; a non-compact domain
keeps the current model and says what to do."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from msrest.exceptions import HttpOperationError

from shared import catalogue
from shared.onnx.pointer import POINTER_BLOB, model_blob_name
from tests.export.conftest import ITERATION_ID
from tests.pipeline.conftest import (
    base_settings,
    blob_input,
    containers,
    read_document,
    trainer,
    unique,
    upload_folder,
)
from tests.pipeline.contract_checks import check_run
from tests.pipeline.test_onnx_mode import place
from tests.pipeline.test_retrain import cycle, published_iteration

pytestmark = pytest.mark.slow
FOOD_COMPACT = "Food (compact)"


NOT_SERVED = ("NotFound", "NotSupported", "BadRequestNotSupported")


@pytest.fixture(scope="module")
def export_routes(localvision_endpoint: str) -> None:
    """Skip when localvision does not serve export yet: an export of an unknown project answers the
    generic 404 NotFound (no such route) or NotSupported instead of NotFoundProject."""
    try:
        trainer(localvision_endpoint).export_iteration(str(uuid.uuid4()), str(uuid.uuid4()), "ONNX")
    except HttpOperationError as error:
        code = getattr(error.error, "code", None) if error.error is not None else None
        if code in NOT_SERVED or (error.response.status_code == 404 and code is None):
            pytest.skip("localvision export routes not available")


def skip_if_export_not_served(run: dict) -> None:
    """The same rule on the cycle's own export call (the probe above may be answered NotFoundProject
    before localvision looks at the operation)."""
    error = run.get("error") or {}
    refused = error.get("code") == "CustomVisionRefused"
    if refused and any(f"with {code} (HTTP" in error["message"] for code in (*NOT_SERVED, "Http404")):
        pytest.skip("localvision export routes not available")


def onnx_settings(conn_str: str, endpoint: str, prefix: str, domain: str) -> dict[str, str]:
    settings = base_settings(conn_str, endpoint, unique(prefix))
    settings["CLASSIFIER_MODE"] = "onnx"
    settings["CUSTOMVISION_DOMAIN"] = domain
    return settings


def test_a_cycle_on_a_compact_domain_exports_and_classify_uses_the_new_model(
    export_routes, load_app, azurite_conn_str, localvision_endpoint, fruit_dir
) -> None:
    settings = onnx_settings(azurite_conn_str, localvision_endpoint, "oe", FOOD_COMPACT)
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images")

    run = check_run(cycle(app, azurite_conn_str, settings))
    skip_if_export_not_served(run)

    assert run["status"] == "succeeded", run
    iteration_id, project_id = run["published"]["iterationId"], run["projectId"]
    assert published_iteration(localvision_endpoint, project_id).id == iteration_id
    assert list(run["timings"]) == ["sync", "train", "poll", "evaluate", "publish", "export", "prune"]
    zip_bytes = stores["pipeline"].download_blob(model_blob_name(iteration_id)).readall()
    sha1 = hashlib.sha1(zip_bytes).hexdigest()
    assert run["export"] == {
        "status": "Done",
        "platform": "ONNX",
        "flavor": None,
        "modelBlob": f"models/{iteration_id}.zip",
        "sha1": sha1,
    }
    pointer = read_pointer(stores)
    tag_ids = {tag.name: tag.id for tag in trainer(localvision_endpoint).get_tags(project_id)}
    assert pointer["iterationId"] == iteration_id and pointer["projectId"] == project_id
    assert pointer["publishedName"] == "fruit-classifier" and pointer["sha1"] == sha1
    assert sorted(pointer["labels"], key=lambda label: label["tagName"]) == [
        {"tagName": name, "tagId": tag_ids[name]} for name in ("apple", "banana", "orange")
    ]

    stores["images"].upload_blob(
        "IMG_TEST_1.jpg", (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes()
    )
    app.classify(blob_input(stores["images"], "IMG_TEST_1.jpg"))
    doc = read_document(stores["results"], "IMG_TEST_1.jpg.json")
    assert doc["model"] == {
        "projectId": project_id,
        "publishedName": "fruit-classifier",
        "iterationId": iteration_id,
        "source": "onnx",
    }
    assert doc["tags"] == ["apple"] and doc["predictions"][0]["tagId"] == tag_ids["apple"]


def test_a_non_compact_domain_records_export_not_supported_and_keeps_the_current_model(
    export_routes, load_app, azurite_conn_str, localvision_endpoint, fruit_dir, fruit_zip
) -> None:
    settings = onnx_settings(azurite_conn_str, localvision_endpoint, "on", "Food")
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    place(stores["pipeline"], fruit_zip, ITERATION_ID)  # the model in use before the cycle
    before = stores["pipeline"].get_blob_client(POINTER_BLOB).get_blob_properties().etag
    upload_folder(stores["training"], fruit_dir / "training-images")

    run = check_run(cycle(app, azurite_conn_str, settings))

    assert run["status"] == "failed", run
    assert run["error"] == {"code": "ExportNotSupported", "message": catalogue.text("ExportNotSupported")}
    assert "onnx mode keeps classifying with the previous model" in run["reason"]
    assert run["export"] == {
        "status": "NotSupported",
        "platform": "ONNX",
        "flavor": None,
        "modelBlob": None,
        "sha1": None,
    }
    # published all the same (service mode would use it), pruned, and the current model untouched
    assert published_iteration(localvision_endpoint, run["projectId"]).id == run["published"]["iterationId"]
    assert "prune" in run["timings"]
    assert stores["pipeline"].get_blob_client(POINTER_BLOB).get_blob_properties().etag == before
    stores["images"].upload_blob(
        "IMG_TEST_2.jpg", (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes()
    )
    app.classify(blob_input(stores["images"], "IMG_TEST_2.jpg"))
    doc = read_document(stores["results"], "IMG_TEST_2.jpg.json")
    assert doc["model"]["iterationId"] == ITERATION_ID and doc["tags"] == ["banana"]


def read_pointer(stores) -> dict:
    return json.loads(stores["pipeline"].download_blob(POINTER_BLOB).readall())
