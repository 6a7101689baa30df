"""The console's training overview with 100,000 training blobs: answered in under 1 s.

On a private in-memory Azurite, ``--blobs`` (default 100,000) one-byte blobs are written to the training
container across three tag folders (and a few outside any folder), then the overview
(``shared.console.training.overview``, the function behind ``GET console-api/training``) is called
five times. The figure is the median; the bar is 1 s. ``python -m bench.training_overview``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient, ContainerClient

from bench.report import Bar, figure, table
from devstack import azurite
from devstack.settings import for_stack
from shared.console.areas import Areas
from shared.console.training import overview
from shared.settings.definitions import load_settings
from shared.storage import connect

TAGS = ("apple", "banana", "orange")
BAR_SECONDS = 1.0
CALLS = 5


def fill(training: ContainerClient, blobs: int) -> None:
    """``blobs`` names, a third per tag folder; 10 of them outside any folder."""
    names = [f"{TAGS[i % 3]}/img-{i:06d}.jpg" for i in range(blobs - 10)] + [
        f"loose-{i}.jpg" for i in range(10)
    ]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda name: training.upload_blob(name, b"x"), names))


def measure(workdir: Path, blobs: int) -> dict[str, Any]:
    store = azurite.start(workdir, in_memory=True)
    try:
        conn_str = azurite.connection_string(store.ports)
        values = for_stack(conn_str, "http://127.0.0.1:9", {}, {})
        settings = load_settings(values)
        training = BlobServiceClient.from_connection_string(conn_str).create_container(
            values["TRAINING_CONTAINER"]
        )
        started = time.perf_counter()
        fill(training, blobs)
        fill_seconds = time.perf_counter() - started
        areas = Areas(settings, connect(settings))
        seconds, answer = [], {}
        for _ in range(CALLS):
            started = time.perf_counter()
            answer = overview(areas)
            seconds.append(time.perf_counter() - started)
        return {
            "blobs": blobs,
            "fillSeconds": fill_seconds,
            "overviewSeconds": seconds,
            "answer": {k: answer[k] for k in ("total", "outsideFolders", "complete")},
            "counts": {f["tag"]: (f["count"], f["more"]) for f in answer["tags"]},
        }
    finally:
        store.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-overview-") as tmp:
        figures = measure(Path(tmp), args.blobs)
    median = statistics.median(figures["overviewSeconds"])
    bar = Bar(f"console: training overview, {figures['blobs']:,} blobs, median", median, BAR_SECONDS, "s")
    rows = [
        figure(f"training container filled ({figures['blobs']:,} blobs)", figures["fillSeconds"], "s"),
        bar.row(),
        ("  counts shown", str(figures["counts"]), "", ""),
        ("  answer", str(figures["answer"]), "", ""),
    ]
    print(table(rows, ("figure", "value", "bar", "")))
    return 0 if bar.passed else 1


if __name__ == "__main__":
    sys.exit(main())
