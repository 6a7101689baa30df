"""End to end through the Event Grid webhook, driven by the repository's test.http: devhost runs the real
function_app (polling off, as in Azure) against real Azurite and a real localvision with a trained fruit
model; a photo is uploaded, test.http's handshake is answered and its BlobCreated event yields the result
document."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError

from devstack.paths import PROJECT_ROOT
from devstack.processes import free_port
from tests.devhost.conftest import FUNCTION_KEY, DevHostProcess
from tests.devhost.eventgrid_events import BLOBS_EXTENSION_KEY
from tests.pipeline.conftest import base_settings, train_and_publish, unique
from tests.support.waiting import wait_until

PHOTO = "IMG_TEST_1.jpg"  # an apple


def http_file_requests(path: Path, overrides: dict[str, str]) -> list[tuple[str, str, dict[str, str], str]]:
    """The requests of an .http file (method, url, headers, body), its @variables set and ``overrides``
    applied."""
    text = path.read_text(encoding="utf-8")
    variables = dict(re.findall(r"^@(\w+)\s*=\s*(.*?)\s*$", text, flags=re.MULTILINE))
    assert set(overrides) <= set(variables), "test.http lost a variable the test sets"
    variables.update(overrides)

    def substitute(value: str) -> str:
        return re.sub(r"\{\{(\w+)\}\}", lambda m: variables[m.group(1)], value)

    found = []
    for block in text.split("\n###")[1:]:
        lines = block.split("\n")[1:]  # the first line is the request's title
        method, url = lines[0].split(" ", 1)
        blank = lines.index("")
        headers = dict(line.split(": ", 1) for line in lines[1:blank])
        found.append((method, substitute(url), {k: substitute(v) for k, v in headers.items()},
                      substitute("\n".join(lines[blank + 1 :]))))  # fmt: skip
    return found


@pytest.fixture
def pipeline_host(tmp_path, scenario, localvision_endpoint, fruit_dir):
    prefix = unique("eg")
    settings = base_settings(scenario.conn_str, localvision_endpoint, prefix)
    train_and_publish(localvision_endpoint, settings["CUSTOMVISION_PROJECT_NAME"], fruit_dir)
    values = {
        **settings,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": scenario.conn_str,
        "AzureFunctionsWebHost__hostid": scenario.name("host"),
        "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
        "DEVHOST_BLOBS_EXTENSION_KEY": BLOBS_EXTENSION_KEY,
        "DEVHOST_EVENTGRID_POLLING": "false",
        "RETRAIN_SCHEDULE": "0 0 3 * * *",
    }
    local_settings = tmp_path / "local.settings.json"
    local_settings.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    args = [
        "--app",
        "function_app",
        "--settings",
        str(local_settings),
        "--host-json",
        str(PROJECT_ROOT / "host.json"),
    ]
    host = DevHostProcess(PROJECT_ROOT, free_port(), tmp_path / "devhost.log", app_args=args).start()
    yield host, settings
    host.kill()


def test_test_http_fires_the_classify_function_through_the_webhook(pipeline_host, scenario, fruit_dir):
    host, settings = pipeline_host
    images = scenario.blobs.create_container(settings["IMAGES_CONTAINER"])
    uploaded = images.upload_blob(PHOTO, (fruit_dir / "test-images" / PHOTO).read_bytes())
    results = scenario.blobs.get_container_client(settings["RESULTS_CONTAINER"])
    handshake, blob_created = http_file_requests(
        PROJECT_ROOT / "test.http",
        {
            "host": host.url,
            "blobsExtensionKey": BLOBS_EXTENSION_KEY,
            "storageUrl": scenario.blobs.url.rstrip("/"),
            "container": settings["IMAGES_CONTAINER"],
            "blobName": PHOTO,
        },
    )

    answers = [
        requests.request(method, url, headers=headers, data=body.encode(), timeout=30)
        for method, url, headers, body in (handshake, blob_created)
    ]

    assert answers[0].status_code == 200
    assert answers[0].json() == {"validationResponse": json.loads(handshake[3])[0]["data"]["validationCode"]}
    assert answers[1].status_code == 202, answers[1].text

    def result() -> dict | None:
        try:
            return json.loads(results.download_blob(f"{PHOTO}.json").readall())
        except ResourceNotFoundError:
            return None

    document = wait_until(result, 60, "the result document")
    assert document["status"] == "ok" and document["tags"] == ["apple"]
    assert document["blob"]["etag"] == uploaded.get_blob_properties().etag
    assert f"New blob detected(EventGrid): {settings['IMAGES_CONTAINER']}/{PHOTO}" in host.output()
