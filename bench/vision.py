"""localvision on its own, through HTTP with the real SDK: training time, prediction latency and
throughput, memory of the server process."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials
from PIL import Image

from bench.photos import Photo
from bench.stack import PREDICTION_KEY, RESOURCE_ID, TRAINING_KEY

BATCH = 64  # Custom Vision's limit of images per upload call
PUBLISHED_NAME = "bench-direct"


def trainer(endpoint: str) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(endpoint, ApiKeyCredentials(in_headers={"Training-key": TRAINING_KEY}))


def predictor(endpoint: str) -> CustomVisionPredictionClient:
    client = CustomVisionPredictionClient(
        endpoint, ApiKeyCredentials(in_headers={"Prediction-key": PREDICTION_KEY})
    )
    client.config.retry_policy.retries = 0  # a failure must show, not hide in a retry
    return client


@dataclass(frozen=True)
class Trained:
    project_id: str
    iteration_id: str
    seconds: float  # from the train call until the iteration reports Completed
    images: int


def train_project(
    endpoint: str, name: str, photos: Sequence[Photo], published: str = PUBLISHED_NAME, poll: float = 0.1
) -> Trained:
    """A Multiclass Food project with ``photos`` (tag from each photo), trained and published."""
    client = trainer(endpoint)
    domain = next(d for d in client.get_domains() if d.type == "Classification" and d.name == "Food")
    project = client.create_project(name, domain_id=domain.id, classification_type="Multiclass")
    tags = {tag: client.create_tag(project.id, tag).id for tag in sorted({p.tag for p in photos if p.tag})}
    for tag, tag_id in tags.items():
        entries = [
            ImageFileCreateEntry(name=p.name.rsplit("/", 1)[-1], contents=p.data)
            for p in photos
            if p.tag == tag
        ]
        for start in range(0, len(entries), BATCH):
            batch = ImageFileCreateBatch(images=entries[start : start + BATCH], tag_ids=[tag_id])
            summary = client.create_images_from_files(project.id, batch)
            bad = [i.status for i in summary.images if i.status not in ("OK", "OKDuplicate")]
            if bad:
                raise RuntimeError(f"upload of training photos failed: {bad[:5]}")
    started = time.perf_counter()
    iteration = client.train_project(project.id)
    while iteration.status == "Training":
        time.sleep(poll)
        iteration = client.get_iteration(project.id, iteration.id)
    seconds = time.perf_counter() - started
    if iteration.status != "Completed":
        raise RuntimeError(f"training ended {iteration.status}: {iteration.training_error_details}")
    client.publish_iteration(project.id, iteration.id, published, RESOURCE_ID)
    return Trained(project.id, iteration.id, seconds, len(photos))


def as_1024x768(data: bytes) -> bytes:
    """The photo as a 1024x768 JPEG (the fruit photos already are: then the bytes are returned as-is)."""
    with Image.open(io.BytesIO(data)) as image:
        if image.size == (1024, 768) and image.format == "JPEG":
            return data
        out = io.BytesIO()
        image.convert("RGB").resize((1024, 768)).save(out, "JPEG", quality=90)
        return out.getvalue()


def classify_latencies(
    client: CustomVisionPredictionClient, project_id: str, published: str, data: bytes, count: int
) -> list[float]:
    """Seconds per sequential ``classify_image_with_no_store`` call, after 5 warm-up calls."""
    for _ in range(5):
        client.classify_image_with_no_store(project_id, published, data)
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        client.classify_image_with_no_store(project_id, published, data)
        latencies.append(time.perf_counter() - started)
    return latencies


@dataclass(frozen=True)
class Throughput:
    images: int
    concurrency: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.images / self.seconds


def classify_throughput(
    client: CustomVisionPredictionClient,
    project_id: str,
    published: str,
    images: Sequence[bytes],
    concurrency: int,
) -> Throughput:
    """Classify every image once from a pool of ``concurrency`` threads; wall time for all of them."""

    def one(data: bytes) -> float:
        started = time.perf_counter()
        client.classify_image_with_no_store(project_id, published, data)
        return time.perf_counter() - started

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, images[: concurrency * 2]))  # warm the connections and threads
        started = time.perf_counter()
        latencies = list(pool.map(one, images))
        seconds = time.perf_counter() - started
    return Throughput(len(images), concurrency, seconds, latencies)
