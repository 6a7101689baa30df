"""The console's training overview with 100,000 training blobs: answered in under 1 s.

On a private in-memory Azurite, ``--blobs`` (default 100,000) one-byte blobs are written to the training
container across three tag folders (and a few outside any folder), the sync's summary of that listing is
written as the mirror writes it at the end of a sync, then the overview (``shared.console.training.
overview``, the function behind ``GET console-api/training``) is called five times. The figure is the
median; the bar is 1 s. Filling takes minutes (Azurite writes a few hundred blobs a second on 2 busy
cores). ``python -m bench.training_overview [--blobs N]``.
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
from shared.mirror.plan import Listed
from shared.mirror.summary import write_summary
from shared.settings.definitions import load_settings
from shared.storage import connect

TAGS = ("apple", "banana", "orange")
BAR_SECONDS = 1.0
CALLS = 5


def names_of(blobs: int) -> list[str]:
    """``blobs`` names, a third per tag folder; 10 of them outside any folder."""
    inside = [f"{TAGS[i % 3]}/img-{i:06d}.jpg" for i in range(blobs - 10)]
    return inside + [f"loose-{i}.jpg" for i in range(10)]


def fill(training: ContainerClient, names: list[str]) -> None:
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda name: training.upload_blob(name, b"x", overwrite=True), names))


def time_overview(conn_str: str, values: dict[str, str], names: list[str]) -> dict[str, Any]:
    """The sync's summary of ``names`` written, then the overview timed CALLS times."""
    settings = load_settings(values)
    service = BlobServiceClient.from_connection_string(conn_str)
    write_summary(
        service.get_container_client(values["PIPELINE_CONTAINER"]), [Listed(n, '"0x1"', 1) for n in names]
    )
    areas = Areas(settings, connect(settings))
    seconds, answer = [], {}
    for _ in range(CALLS):
        started = time.perf_counter()
        answer = overview(areas)
        seconds.append(time.perf_counter() - started)
    return {
        "blobs": len(names),
        "overviewSeconds": seconds,
        "answer": {k: answer[k] for k in ("total", "outsideFolders", "countsAsOf")},
        "counts": {f["tag"]: f["count"] for f in answer["tags"]},
    }


def measure(workdir: Path, blobs: int) -> dict[str, Any]:
    store = azurite.start(workdir, in_memory=True)
    try:
        conn_str = azurite.connection_string(store.ports)
        values = for_stack(conn_str, "http://127.0.0.1:9", {}, {})
        training = BlobServiceClient.from_connection_string(conn_str).create_container(
            values["TRAINING_CONTAINER"]
        )
        names = names_of(blobs)
        started = time.perf_counter()
        fill(training, names)
        fill_seconds = time.perf_counter() - started
        return {**time_overview(conn_str, values, names), "fillSeconds": fill_seconds}
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
