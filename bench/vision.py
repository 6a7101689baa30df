"""localvision on its own, through HTTP with the real SDK: prediction latency and throughput."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from PIL import Image

from devstack import vision

PUBLISHED_NAME = "bench-direct"


def predictor(endpoint: str) -> CustomVisionPredictionClient:
    client = vision.predictor(endpoint)
    client.config.retry_policy.retries = 0  # a failure must show, not hide in a retry
    return client


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
