"""Helpers for the localvision tests: SDK clients, generated images, a tiny trainable project."""

from __future__ import annotations

import contextlib
import http.server
import io
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    Export,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    Iteration,
    Project,
)
from msrest.authentication import ApiKeyCredentials
from PIL import Image

from localvision.blobstore import BlobStore
from localvision.server import RunningServer
from tests.conftest import PREDICTION_KEY, TRAINING_KEY
from tests.support.http_server import serving

PREDICTION_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.CognitiveServices/accounts/vision-prediction"
)
FOOD_DOMAIN = "c151d5b5-dd07-472a-acc8-15d29dea8518"
COMPACT_DOMAIN = "0732100f-1a38-4e49-a514-c9b44c697ab5"  # General (compact)
GENERAL_DOMAIN = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
OD_GENERAL_DOMAIN = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"


def trainer(
    endpoint: str, key: str = TRAINING_KEY, header: str = "Training-key"
) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(endpoint, ApiKeyCredentials(in_headers={header: key}))


def predictor(
    endpoint: str, key: str = PREDICTION_KEY, header: str = "Prediction-key"
) -> CustomVisionPredictionClient:
    return CustomVisionPredictionClient(endpoint, ApiKeyCredentials(in_headers={header: key}))


def image_bytes(
    color: tuple[int, int, int] = (200, 30, 30),
    size: tuple[int, int] = (320, 240),
    fmt: str = "JPEG",
    seed: int = 0,
) -> bytes:
    """A distinct image (noise from ``seed`` over a base colour), encoded as ``fmt``."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(color) + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(trainer_client: CustomVisionTrainingClient, project_id: str, tag_id: str, images: list[bytes]):
    entries = [
        ImageFileCreateEntry(name=f"img{i}.jpg", contents=data, tag_ids=[tag_id])
        for i, data in enumerate(images)
    ]
    return trainer_client.create_images_from_files(project_id, ImageFileCreateBatch(images=entries))


def wait_trained(trainer_client: CustomVisionTrainingClient, project_id: str, iteration_id: str) -> Iteration:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        iteration = trainer_client.get_iteration(project_id, iteration_id)
        if iteration.status != "Training":
            return iteration
        time.sleep(0.3)
    raise TimeoutError(f"iteration {iteration_id} still training after 300 s")


RED, BLUE = (220, 40, 40), (40, 40, 220)


def tiny_project(
    trainer_client: CustomVisionTrainingClient, name: str = "tiny"
) -> tuple[Project, dict[str, str]]:
    """A project with tags red / blue, 5 generated images each (the minimum to train)."""
    project = trainer_client.create_project(name, classification_type="Multiclass")
    tags = {}
    for tag_name, color, offset in (("red", RED, 0), ("blue", BLUE, 100)):
        tag = trainer_client.create_tag(project.id, tag_name)
        tags[tag_name] = tag.id
        result = upload(
            trainer_client, project.id, tag.id, [image_bytes(color, seed=offset + i) for i in range(5)]
        )
        assert result.is_batch_successful
    return project, tags


def trained_tiny_project(trainer_client: CustomVisionTrainingClient, publish_name: str = "tiny-model"):
    """A tiny project, trained and published as ``publish_name``; returns (project, tags, iteration)."""
    project, tags = tiny_project(trainer_client)
    iteration = wait_trained(trainer_client, project.id, trainer_client.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    trainer_client.publish_iteration(project.id, iteration.id, publish_name, PREDICTION_RESOURCE_ID)
    return project, tags, iteration


@contextlib.contextmanager
def serve_files(files: dict[str, bytes]) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving ``files`` by path; yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args) -> None:
            pass

    with serving(Handler) as url:
        yield url


def with_query(uri: str, **changes: str | None) -> str:
    """``uri`` with query parameters replaced (a value) or removed (None): to tamper with signed links."""
    parts = urlsplit(uri)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return parts._replace(query=urlencode(query)).geturl()


def kept(server: RunningServer, folder: str) -> list[str]:
    """What the server's store keeps under ``folder`` (e.g. ``projects/{id}``): its files in the data
    folder and, on the blob store, its blobs in the container."""
    names = sorted(str(p.relative_to(server.data_dir)) for p in (server.data_dir / folder).rglob("*"))
    store = server.server.backend.store
    if isinstance(store, BlobStore):
        names += sorted(blob.name for blob in store.container.list_blobs(name_starts_with=folder + "/"))
    return names


def wait_exported(client, project_id: str, iteration_id: str, flavor: str | None = None) -> Export:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        exports = [e for e in client.get_exports(project_id, iteration_id) if e.flavor == flavor]
        assert len(exports) == 1, "one export per platform and flavor"
        if exports[0].status != "Exporting":
            return exports[0]
        time.sleep(0.2)
    raise TimeoutError("export still running after 120 s")


def tiny_compact(client: CustomVisionTrainingClient, name: str = "tiny compact") -> tuple[str, str]:
    """A project on General (compact) with red / blue, 5 generated images each, training started."""
    project = client.create_project(name, domain_id=COMPACT_DOMAIN, classification_type="Multiclass")
    for tag_name, color, offset in (("red", RED, 0), ("blue", BLUE, 100)):
        tag = client.create_tag(project.id, tag_name)
        images = [image_bytes(color, seed=offset + i) for i in range(5)]
        assert upload(client, project.id, tag.id, images).is_batch_successful
    return project.id, client.train_project(project.id).id
