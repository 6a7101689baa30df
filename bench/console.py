"""The console with thousands of result documents: how long the first gallery page takes.

``measure(stack)`` fills the results container of a running local stack (devhost started) with
``count`` small result documents, then times ``GET /api/console-api/results`` (the first page: with more
than 250 documents, one listing call of 250 names and dates to find that they are too many to sort
by date, one listing of 50 names and those 50 documents) over HTTP, as the page calls it. Figures in
milliseconds.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.storage.blob import BlobServiceClient, ContainerClient

from devstack.stack import LocalStack
from devstack.vision import FUNCTION_KEY

DOCUMENTS = 10_000
UPLOADERS = 10  # the SDK keeps 10 connections a host: more threads only open and drop connections


def result_document(index: int) -> dict[str, Any]:
    """A result document of the published schema's shape (the gallery reads only its summary)."""
    tag = ("apple", "banana", "orange")[index % 3]
    probability = round(0.5 + (index % 50) / 100, 6)
    return {
        "schemaVersion": 1,
        "status": "ok",
        "blob": {
            "container": "images",
            "name": f"bench/{index:06d}.jpg",
            "etag": f'"0x{index:X}"',
            "size": 1,
        },
        "model": {
            "projectId": "bench",
            "publishedName": "fruit-classifier",
            "iterationId": "bench",
            "source": "service",
        },
        "threshold": 0.5,
        "tags": [tag],
        "predictions": [{"tagName": tag, "tagId": tag, "probability": probability}],
        "classifiedAt": "2026-11-25T02:00:00Z",
    }


def fill_results(container: ContainerClient, count: int = DOCUMENTS) -> float:
    """Upload ``count`` documents as bench/{index}.jpg.json; returns the seconds it took."""
    if not container.exists():
        container.create_container()
    started = time.perf_counter()

    def upload(index: int) -> None:
        body = json.dumps(result_document(index)).encode()
        container.upload_blob(f"bench/{index:06d}.jpg.json", body, overwrite=True)

    with ThreadPoolExecutor(UPLOADERS) as pool:
        list(pool.map(upload, range(count)))
    return time.perf_counter() - started


def first_page_ms(devhost_url: str, key: str = FUNCTION_KEY, repeats: int = 5) -> list[float]:
    """Milliseconds of each of ``repeats`` requests for the gallery's first page."""
    timings = []
    for _ in range(repeats):
        request = urllib.request.Request(
            f"{devhost_url}/api/console-api/results", headers={"x-functions-key": key}
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            page = json.loads(response.read())
        timings.append((time.perf_counter() - started) * 1000)
        if page["read"] > 50:
            raise RuntimeError(f"the first page read {page['read']} documents (at most 50 expected)")
    return timings


def measure(stack: LocalStack, count: int = DOCUMENTS, repeats: int = 5) -> dict[str, Any]:
    """Fill the stack's results container with ``count`` documents and time the first gallery page."""
    service = BlobServiceClient.from_connection_string(stack.conn_str)
    container = service.get_container_client(stack.values["RESULTS_CONTAINER"])
    fill_seconds = fill_results(container, count)
    timings = first_page_ms(
        stack.devhost_url, stack.values.get("DEVHOST_FUNCTION_KEY", FUNCTION_KEY), repeats
    )
    return {
        "documents": count,
        "fillSeconds": round(fill_seconds, 1),
        "firstPageMs": {"first": timings[0], "median": statistics.median(timings), "all": timings},
    }


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        local = LocalStack.start(Path(tmp))
        try:
            local.start_devhost()
            print(json.dumps(measure(local), indent=2))
        finally:
            local.stop()
