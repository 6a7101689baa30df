"""Fixtures for the pipeline tests: function_app imported with test settings, inputs built with the
azure.functions types the host passes, and a helper that plays the queue trigger for the retrain worker."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from devstack import localvision, photos, vision
from devstack.vision import FOOD_DOMAIN, PREDICTION_KEY, RESOURCE_ID, TRAINING_KEY, trainer
from shared.settings.declared import SETTINGS, STORAGE_CONNECTION, STORAGE_IDENTITY_SUFFIXES
from tests.export.conftest import (  # noqa: F401  the fruit model's fixtures, for onnx mode: one copy per session
    all_photos,
    export_cache,
    feature_graph,
    featurizer,
    fruit_model,
    fruit_zip,
    training_photos,
)
from tests.pipeline.contract_checks import check_document, check_reply

__all__ = ["FOOD_DOMAIN", "trainer"]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def base_settings(conn_str: str, endpoint: str, prefix: str) -> dict[str, str]:
    """Settings for one test: containers, queue and project names of their own."""
    return {
        STORAGE_CONNECTION: conn_str,
        "IMAGES_CONTAINER": f"{prefix}-images",
        "RESULTS_CONTAINER": f"{prefix}-results",
        "REVIEW_CONTAINER": f"{prefix}-review",
        "TRAINING_CONTAINER": f"{prefix}-training",
        "PIPELINE_CONTAINER": f"{prefix}-pipeline",
        "RETRAIN_QUEUE": f"{prefix}-retrain",
        "CUSTOMVISION_TRAINING_ENDPOINT": endpoint,
        "CUSTOMVISION_TRAINING_KEY": TRAINING_KEY,
        "CUSTOMVISION_PREDICTION_ENDPOINT": endpoint,
        "CUSTOMVISION_PREDICTION_KEY": PREDICTION_KEY,
        "CUSTOMVISION_PREDICTION_RESOURCE_ID": RESOURCE_ID,
        "CUSTOMVISION_PROJECT_NAME": f"Classify Fruit {prefix}",
        "CUSTOMVISION_DOMAIN": "Food",
        "PREDICTION_MAX_TPS": "0",
        "QUICKTEST_MAX_TPS": "0",
        "RETRAIN_POLL_SECONDS": "1",
        "TRANSIENT_RETRY_SECONDS": "2",
    }


@pytest.fixture
def load_app(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], ModuleType]:
    """Import function_app afresh with exactly these settings in os.environ, as the host would."""

    def load(settings: dict[str, str]) -> ModuleType:
        for setting in SETTINGS:
            monkeypatch.delenv(setting.name, raising=False)
        for suffix in STORAGE_IDENTITY_SUFFIXES:
            monkeypatch.delenv(f"{STORAGE_CONNECTION}__{suffix}", raising=False)
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        sys.modules.pop("function_app", None)
        return importlib.import_module("function_app")

    yield load
    sys.modules.pop("function_app", None)


def blob_input(container: ContainerClient, name: str) -> func.blob.InputStream:
    """The InputStream the host passes for a blob: data, "container/name" and the blob's properties."""
    downloader = container.download_blob(name)
    data = downloader.readall()
    props = downloader.properties
    return func.blob.InputStream(
        data=data,
        name=f"{container.container_name}/{name}",
        length=len(data),
        uri=f"{container.url}/{name}",
        blob_properties={
            "ETag": props.etag,
            "Length": props.size,
            "ContentType": props.content_settings.content_type,
            "LastModified": props.last_modified.isoformat(),
        },
        metadata=props.metadata,
    )


def http_request(
    method: str,
    route: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    route_params: dict[str, str] | None = None,
) -> func.HttpRequest:
    return func.HttpRequest(
        method=method,
        url=f"http://localhost:7071/api/{route}",
        headers=headers or {},
        params={},
        route_params=route_params or {},
        body=body,
    )


def response_json(response: func.HttpResponse) -> Any:
    """The reply's JSON, checked against the published contracts and the error catalogue."""
    return check_reply(json.loads(response.get_body()))


def read_document(container: ContainerClient, name: str) -> dict[str, Any]:
    """A stored result document, checked against its published schema and the catalogue."""
    return check_document(json.loads(container.download_blob(name).readall()))


def run_worker(
    app: ModuleType, conn_str: str, queue_name: str, until: Callable[[], bool], timeout: float = 240.0
) -> int:
    """Play the queue triggers: receive retrain messages, invoke retrain_worker, delete them; a failed
    invocation makes its message visible again at once (the host would wait visibilityTimeout), and
    after 5 tries the message is poisoned: retrain_poison is invoked with it, as the host would."""
    queue = QueueClient.from_connection_string(
        conn_str,
        queue_name,
        message_encode_policy=TextBase64EncodePolicy(),  # update_message sends the content again
        message_decode_policy=TextBase64DecodePolicy(),
    )
    deadline = time.monotonic() + timeout
    invocations = 0
    while not until():
        assert time.monotonic() < deadline, "the retrain cycle did not finish in time"
        messages = list(queue.receive_messages(max_messages=1, visibility_timeout=60))
        if not messages:
            time.sleep(0.2)
            continue
        message = messages[0]
        invocations += 1
        trigger_message = func.queue.QueueMessage(
            id=message.id,
            body=message.content,
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
        )
        try:
            app.retrain_worker(trigger_message)
        except Exception:
            if message.dequeue_count >= 5:
                queue.delete_message(message)
                app.retrain_poison(func.queue.QueueMessage(id=message.id, body=message.content))
            else:
                queue.update_message(message, visibility_timeout=0)
            continue
        queue.delete_message(message)
    return invocations


def upload_folder(container: ContainerClient, folder: Path, prefix: str = "") -> int:
    """Upload folder/{tag}/{file} as {tag}/{file} blobs; return how many."""
    count = 0
    for path in sorted(folder.rglob("*.jpg")):
        container.upload_blob(prefix + path.relative_to(folder).as_posix(), path.read_bytes(), overwrite=True)
        count += 1
    return count


def containers(conn_str: str, settings: dict[str, str]) -> dict[str, ContainerClient]:
    service = BlobServiceClient.from_connection_string(conn_str)
    out = {}
    for key in ("IMAGES", "RESULTS", "REVIEW", "TRAINING", "PIPELINE"):
        client = service.get_container_client(settings[f"{key}_CONTAINER"])
        if not client.exists():
            client.create_container()
        out[key.lower()] = client
    return out


def train_and_publish(
    endpoint: str, name: str, fruit_dir: Path, published_name: str = vision.PUBLISHED_NAME
) -> str:
    """A published fruit model made directly with the SDK (for tests of classification alone)."""
    return vision.train_and_publish(endpoint, name, photos.training(fruit_dir), published_name).project_id


@pytest.fixture
def extra_localvision(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start a localvision of its own with extra arguments (e.g. --faults 429:1.0), on a copy of the data
    folder ``data_from`` if given (its projects, already trained); returns its endpoint."""
    started: list[localvision.LocalVision] = []

    def start(*args: str, data_from: Path | None = None) -> str:
        data = tmp_path / f"lv{len(started)}"
        if data_from is not None:
            shutil.copytree(data_from, data)
        service = localvision.start(data, TRAINING_KEY, PREDICTION_KEY, *args, in_process=True)
        started.append(service)
        return f"http://127.0.0.1:{service.ports['http']}"

    yield start
    for service in started:
        service.stop()
