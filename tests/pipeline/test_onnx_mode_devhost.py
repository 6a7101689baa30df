"""Onnx mode end to end through devhost: the real function_app in its own process over real Azurite, the
blob trigger and POST /api/classify, with localvision's export of the fruit head in pipeline/models. The
Custom Vision endpoints point at a closed port: no call may reach the service."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError

from devstack.paths import PROJECT_ROOT
from devstack.processes import free_port
from tests.devhost.conftest import FUNCTION_KEY, DevHostProcess
from tests.export.conftest import ITERATION_ID, TEST_PHOTOS
from tests.pipeline.conftest import containers, unique
from tests.pipeline.contract_checks import check_document
from tests.pipeline.test_onnx_mode import NO_SERVICE, PROJECT_ID, TAG_IDS, place
from tests.pipeline.test_onnx_mode import settings as onnx_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
settings = onnx_settings


@pytest.fixture
def onnx_host(tmp_path, settings, azurite_conn_str, fruit_zip) -> Iterator[tuple[DevHostProcess, dict]]:
    place(containers(azurite_conn_str, settings)["pipeline"], fruit_zip, ITERATION_ID)
    values = {
        **settings,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": azurite_conn_str,
        "AzureFunctionsWebHost__hostid": unique("onnx-host-"),
        "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
        "RETRAIN_SCHEDULE": "0 0 3 * * *",
    }
    local_settings = tmp_path / "local.settings.json"
    local_settings.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    args = ["--app", "function_app", "--settings", str(local_settings)]
    args += ["--host-json", str(PROJECT_ROOT / "host.json")]
    host = DevHostProcess(PROJECT_ROOT, free_port(), tmp_path / "devhost.log", app_args=args).start()
    yield host, settings
    host.kill()


def test_the_blob_trigger_and_the_quick_test_classify_in_process(onnx_host, azurite_conn_str, fruit_dir):
    host, settings = onnx_host
    assert settings["CUSTOMVISION_PREDICTION_ENDPOINT"] == NO_SERVICE
    stores = containers(azurite_conn_str, settings)
    for name in TEST_PHOTOS:
        stores["images"].upload_blob(name, (fruit_dir / "test-images" / name).read_bytes())

    def document(name: str) -> dict | None:
        try:
            return json.loads(stores["results"].download_blob(f"{name}.json").readall())
        except ResourceNotFoundError:
            return None

    for name, fruit in TEST_PHOTOS.items():
        doc = check_document(wait_until(lambda n=name: document(n), 120, f"results/{name}.json"))
        assert doc["status"] == "ok", doc
        assert doc["model"] == {
            "projectId": PROJECT_ID,
            "publishedName": "fruit-classifier",
            "iterationId": ITERATION_ID,
            "source": "onnx",
        }
        assert doc["tags"] == [fruit] and doc["predictions"][0]["tagId"] == TAG_IDS[fruit]

    photo = (fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes()
    reply = requests.post(
        f"{host.url}/api/classify",
        data=photo,
        headers={"x-functions-key": FUNCTION_KEY, "Content-Type": "image/jpeg"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    body = check_document(reply.json())
    assert body["model"]["source"] == "onnx" and body["tags"] == ["banana"]
