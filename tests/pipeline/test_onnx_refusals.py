"""Onnx mode against real Azurite, with a model pointer an adversary wrote: the refusal is one catalogue
error (ModelRefused with the reason), the model in use stays, and the refused version of current.json is
not tried again until it changes."""

# ruff: noqa: F401, F811 (the export tests' session fixtures, imported to be used here)
from __future__ import annotations

import json
import time

import pytest

from shared import catalogue
from shared.onnx.pointer import POINTER_BLOB
from tests.export.conftest import ITERATION_ID
from tests.export.portal_zip import portal_zip
from tests.pipeline.conftest import containers
from tests.pipeline.test_onnx_mode import classify, place, settings

pytestmark = pytest.mark.slow
NESTED = {"cvexport.manifest": b"[" * 60_000}


def test_a_refused_model_keeps_the_one_in_use_and_is_retried_only_when_current_json_changes(
    load_app, settings, azurite_conn_str, fruit_dir, fruit_zip
) -> None:
    stores = containers(azurite_conn_str, settings)
    pipeline = stores["pipeline"]
    photo = (fruit_dir / "test-images" / "IMG_TEST_1.jpg").read_bytes()
    place(pipeline, fruit_zip, ITERATION_ID)
    app = load_app(settings)
    store = app.pipeline.model_store
    assert classify(app, stores, "a.jpg", photo)["model"]["iterationId"] == ITERATION_ID
    store.refresh_seconds = 0.2

    # a zip whose manifest nests 60,000 arrays (a RecursionError in json.loads)
    bad = portal_zip(b"unused", "abc", raw=NESTED)
    pipeline.upload_blob("models/nested.zip", bad)
    pipeline.upload_blob(POINTER_BLOB, json.dumps({"modelBlob": "models/nested.zip"}), overwrite=True)
    time.sleep(0.3)
    doc = classify(app, stores, "b.jpg", photo)
    assert doc["status"] == "ok" and doc["model"]["iterationId"] == ITERATION_ID

    # a fresh instance has no model to fall back on: an error document that names the refusal
    fresh = load_app(settings)
    doc = classify(fresh, stores, "c.jpg", photo)
    reason = catalogue.text(
        "ModelInvalid", detail="cvexport.manifest is not valid JSON (or is nested too deeply)"
    )
    assert doc["error"] == {
        "code": "ModelRefused",
        "message": catalogue.text("ModelRefused", reason=reason),
        "retryable": False,
    }

    # the zip fixed in place: the refused current.json is not read again, so the refusal stands ...
    pipeline.upload_blob("models/nested.zip", fruit_zip, overwrite=True)
    fresh.pipeline.model_store.refresh_seconds = 0.2
    time.sleep(0.3)
    assert classify(fresh, stores, "d.jpg", photo)["error"]["code"] == "ModelRefused"
    # ... until current.json changes (same body, new ETag): then the new zip is tried and used
    pipeline.upload_blob(POINTER_BLOB, json.dumps({"modelBlob": "models/nested.zip"}), overwrite=True)
    time.sleep(0.3)
    doc = classify(fresh, stores, "e.jpg", photo)
    assert doc["status"] == "ok" and doc["model"]["iterationId"] == ITERATION_ID
