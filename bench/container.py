"""``python -m bench.container``: localvision's container image on this machine (podman, blob store on a
private Azurite), the figures that size the container app: image size, cold start, training 45 and 500
photos, classifications per second, the container's peak memory. About 3 minutes on 2 cores.

Cold start is measured as a replica would meet it: a new container, empty data folder, on a blob container
that already holds a trained project: from ``podman run`` to GET /health, and to the first classification
(its model fetched from the blob store, the feature extractor loaded).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.vision import as_1024x768, classify_throughput, predictor
from devstack import azurite, photos, vision
from devstack import container as podman
from devstack.vision import PREDICTION_KEY, TRAINING_KEY

PUBLISHED = "fruit-classifier"


def _settings(conn_str: str, state: str) -> dict[str, str]:
    return {
        "LOCALVISION_TRAINING_KEY": TRAINING_KEY,
        "LOCALVISION_PREDICTION_KEY": PREDICTION_KEY,
        "LOCALVISION_STORE": "blob",
        "LOCALVISION_BLOB_CONTAINER": state,
        "LOCALVISION_BLOB_CONNECTION_STRING": conn_str,
    }


def _peak_memory_mb(running: podman.Container) -> float:
    """The container's peak memory (cgroup v1 or v2), read inside it."""
    script = (
        "import pathlib\n"
        "for p in ('/sys/fs/cgroup/memory/memory.max_usage_in_bytes', '/sys/fs/cgroup/memory.peak'):\n"
        "    f = pathlib.Path(p)\n"
        "    if f.exists():\n"
        "        print(f.read_text().strip()); break\n"
    )
    out = podman.call("exec", running.id, "/opt/localvision/venv/bin/python", "-c", script)
    return int(out) / 2**20 if out.isdigit() else float("nan")


def measure(workdir: Path) -> dict[str, float]:
    root = photos.require()
    tag = podman.build()
    figures: dict[str, float] = {"image_mb": podman.size_bytes(tag) / 1e6}
    store = azurite.start(workdir / "azurite", in_memory=True)
    state = f"bench-{uuid.uuid4().hex[:8]}"
    settings = _settings(azurite.connection_string(store.ports), state)
    try:
        started = time.perf_counter()
        first = podman.run(tag, settings)
        figures["first_start_to_health_s"] = time.perf_counter() - started
        try:
            trained = vision.train_and_publish(first.endpoint, "Fruit 45", photos.training(root), PUBLISHED)
            figures["train_45_s"] = trained.seconds
            labelled = photos.training(root) + photos.more_training(root)
            many = photos.copies(labelled, 500, "bench-")
            figures["train_500_s"] = vision.train_and_publish(first.endpoint, "Fruit 500", many).seconds
            figures["peak_memory_mb"] = _peak_memory_mb(first)
        finally:
            first.stop()

        started = time.perf_counter()
        second = podman.run(tag, settings)  # a new replica: empty data folder, same blob container
        figures["cold_start_to_health_s"] = time.perf_counter() - started
        try:
            test = [as_1024x768(p.data) for p in photos.test_photos(root)]
            client = predictor(second.endpoint)
            client.classify_image_with_no_store(trained.project_id, PUBLISHED, test[0])
            figures["cold_start_to_first_classification_s"] = time.perf_counter() - started
            for concurrency in (1, 4):
                burst = classify_throughput(client, trained.project_id, PUBLISHED, test * 40, concurrency)
                figures[f"classify_per_s_{concurrency}_client"] = burst.per_second
        finally:
            second.stop()
    finally:
        store.stop()
    return figures


def main() -> int:
    reason = podman.unavailable()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-container-") as workdir:
        figures = measure(Path(workdir))
    for name, value in figures.items():
        print(f"{name:40} {value:10.2f}")
    print(json.dumps({name: round(value, 3) for name, value in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
