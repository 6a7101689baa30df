"""Sync cost grows with change: 1,000 unchanged + 10 changed training blobs -> calls for the 10, one listing.

On a private stack (Azurite + localvision): 1,010 small distinct JPEGs in three tag folders, a first
mirror sync (continued in passes of SYNC_BATCHES_PER_INVOCATION call batches, as the worker does), then
10 changes (4 moves to another folder, 3 replaced contents, 3 deletions) and a second sync. The
mirror runs in this process; its Custom Vision calls are counted on the SDK client (method + route) and
its storage requests on the blob client's pipeline (listings, downloads). ``python -m bench.sync_cost``.
"""

from __future__ import annotations

import io
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient, ContainerClient
from PIL import Image

from bench.report import Check, figure, table
from devstack.settings import for_stack
from devstack.stack import LocalStack
from devstack.vision import keys
from shared.contracts import encode
from shared.customvision.clients import CustomVision
from shared.mirror.sync import Mirror, Sources, SyncReport
from shared.retrain.steps import SYNC_BATCHES_PER_INVOCATION
from shared.settings.definitions import load_settings

TAGS = ("alpha", "beta", "gamma")
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def jpeg(index: int) -> bytes:
    """A 48x48 JPEG whose pattern encodes ``index``: distinct bytes for distinct indices."""
    image = Image.new("L", (48, 48), 128)
    for bit in range(16):
        if index >> bit & 1:
            x, y = (bit % 4) * 12, (bit // 4) * 12
            image.paste(255, (x, y, x + 12, y + 12))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


class StorageCounter:
    """Counts the blob service requests of the mirror's clients (listings, downloads): a raw_request_hook."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def on_request(self, request: Any) -> None:
        http = request.http_request
        if "comp=list" in http.url:
            self.counts["list blobs"] += 1
        elif http.method == "GET":
            self.counts["download blob"] += 1
        else:
            self.counts[f"{http.method} blob"] += 1


def count_customvision(cv: CustomVision) -> Counter[str]:
    """Wrap the training client's sender: one count per HTTP call, by method and route."""
    counts: Counter[str] = Counter()
    client = cv.trainer._client
    send = client.send

    def counting(request: Any, *args: Any, **kwargs: Any) -> Any:
        path = re.sub(r"^.*/training", "", request.url.split("?", 1)[0])
        counts[f"{request.method} {ID.sub('{id}', path)}"] += 1
        return send(request, *args, **kwargs)

    client.send = counting
    return counts


@dataclass
class Counted:
    report: SyncReport
    seconds: float
    passes: int


def sync(cv: CustomVision, pid: str, sources: Sources) -> Counted:
    """A whole sync as the worker runs it: passes of SYNC_BATCHES_PER_INVOCATION, a new Mirror each."""
    started, report, passes = time.perf_counter(), None, 0
    while report is None or not report.complete:
        report = Mirror(cv, pid, sources, cv.settings.negative_folder).run(
            SYNC_BATCHES_PER_INVOCATION, report
        )
        passes += 1
    return Counted(report, time.perf_counter() - started, passes)


def measure(workdir: Path, unchanged: int = 1000) -> dict[str, Any]:
    stack = LocalStack.start(workdir)
    try:
        values = for_stack(stack.conn_str, stack.endpoint, keys(), {"CUSTOMVISION_PROJECT_NAME": "Sync cost"})
        settings = load_settings(values)
        counter = StorageCounter()
        service = BlobServiceClient.from_connection_string(
            stack.conn_str, raw_request_hook=counter.on_request
        )
        training: ContainerClient = service.get_container_client(values["TRAINING_CONTAINER"])
        pipeline = service.get_container_client(values["PIPELINE_CONTAINER"])
        for container in (training, pipeline):
            container.create_container()
        total = unchanged + 10
        names = [f"{TAGS[i % 3]}/img-{i:04d}.jpg" for i in range(total)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: training.upload_blob(names[i], jpeg(i)), range(total)))
        cv = CustomVision(settings)
        pid = cv.project_id(create=True)
        sources = Sources(training, pipeline)
        first = sync(cv, pid, sources)

        changed = names[-10:]
        for name in changed[:4]:  # moves: same bytes, next tag's folder
            tag, _, file = name.partition("/")
            training.upload_blob(
                f"{TAGS[(TAGS.index(tag) + 1) % 3]}/{file}", training.download_blob(name).readall()
            )
            training.delete_blob(name)
        for offset, name in enumerate(changed[4:7]):  # new content under the same name
            training.upload_blob(name, jpeg(40_000 + offset), overwrite=True)
        for name in changed[7:]:
            training.delete_blob(name)

        calls = count_customvision(cv)
        counter.counts.clear()
        second = sync(cv, pid, sources)
        return {
            "blobs": total,
            "changed": 10,
            "first": {
                "seconds": first.seconds,
                "passes": first.passes,
                "sync": encode(first.report.counts()),
            },
            "second": {
                "seconds": second.seconds,
                "passes": second.passes,
                "sync": encode(second.report.counts()),
                "customVisionCalls": dict(calls),
                "storageRequests": dict(counter.counts),
            },
        }
    finally:
        stack.stop()


def checks(figures: dict[str, Any]) -> list[Check]:
    second = figures["second"]
    sync_counts, calls, storage = second["sync"], second["customVisionCalls"], second["storageRequests"]
    done = {k: sync_counts[k] for k in ("retagged", "replaced", "deleted", "uploaded", "failed")}
    listings, downloads, total_calls = (
        storage.get("list blobs", 0),
        storage.get("download blob", 0),
        sum(calls.values()),
    )
    return [
        Check(
            "sync cost: changes applied",
            done == {"retagged": 4, "replaced": 3, "deleted": 3, "uploaded": 0, "failed": 0},
            str(done),
        ),
        Check("sync cost: one listing of the container", listings == 1, f"{listings} listing(s)"),
        Check(
            "sync cost: Custom Vision calls for the 10 only",
            total_calls <= figures["changed"] and downloads <= figures["changed"],
            f"{total_calls} calls, {downloads} blob downloads for {figures['changed']} changes",
        ),
    ]


def figure_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The sync's times and the second sync's calls by operation and storage requests by kind."""
    second = figures["second"]
    return [
        figure(f"sync cost: first sync, {figures['blobs']:,} blobs", figures["first"]["seconds"], "s"),
        figure("sync cost: second sync, 10 changed", second["seconds"], "s"),
        *[
            (f"  sync cost: call {name}", str(count), "", "")
            for name, count in sorted(second["customVisionCalls"].items())
        ],
        *[
            (f"  sync cost: storage {name}", str(count), "", "")
            for name, count in sorted(second["storageRequests"].items())
        ],
    ]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        figures = measure(Path(tmp))
    rows = figure_rows(figures)
    results = checks(figures)
    rows += [c.row() for c in results]
    print(table(rows, ("figure", "value", "bar", "")))
    return 0 if all(c.passed for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
