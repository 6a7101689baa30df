"""The pipeline end to end on devhost: photos dropped into the images container, result documents out.

Two phases over the same stack: a burst (every photo uploaded at once: throughput, and latency that is
mostly waiting in line) and a paced drip (photos arriving at half the measured throughput: the latency
one photo sees when the pipeline keeps up, which is what the 2 s bar is about). Per-stage times come
from the product's own spans (bench.spans): what Application Insights shows for each photo.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from azure.storage.blob import BlobServiceClient, ContainerClient

from bench.stats import summary
from devstack.photos import Photo

UPLOAD_THREADS = 8
# download and receipt: devhost; the rest: the pipeline; "other" is the attempt's remainder (invocation,
# bindings, building the document, logging, the spans themselves).
STAGES = ("download", "normalise", "predict", "write_result", "review_copy", "receipt")


@dataclass
class Drop:
    """One phase: what was uploaded when, and what came back."""

    uploaded: dict[str, float] = field(default_factory=dict)  # blob name -> wall time the upload returned
    etags: dict[str, str] = field(default_factory=dict)
    first_upload_started: float = 0.0
    seen: dict[str, float] = field(default_factory=dict)  # blob name -> wall time its document was listed
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)


def containers(conn_str: str, values: dict[str, str]) -> tuple[ContainerClient, ContainerClient]:
    service = BlobServiceClient.from_connection_string(conn_str)
    images = service.get_container_client(values["IMAGES_CONTAINER"])
    results = service.get_container_client(values["RESULTS_CONTAINER"])
    for container in (images, results):
        if not container.exists():
            container.create_container()
    return images, results


def _upload(images: ContainerClient, photo: Photo) -> tuple[str, float, str]:
    result = images.get_blob_client(photo.name).upload_blob(photo.data, overwrite=True)
    return photo.name, time.time(), result["etag"]


def burst(images: ContainerClient, photos: Sequence[Photo]) -> Drop:
    drop = Drop(first_upload_started=time.time())
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        for name, at, etag in pool.map(lambda p: _upload(images, p), photos):
            drop.uploaded[name], drop.etags[name] = at, etag
    return drop


def paced(images: ContainerClient, photos: Sequence[Photo], rate: float) -> Drop:
    """Upload one photo every 1/rate seconds (on a schedule, so a slow upload does not slow the rest)."""
    drop = Drop(first_upload_started=time.time())
    start = time.monotonic()
    for index, photo in enumerate(photos):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        name, at, etag = _upload(images, photo)
        drop.uploaded[name], drop.etags[name] = at, etag
    return drop


def wait_for_documents(results: ContainerClient, drop: Drop, timeout: float, every: float = 1.0) -> None:
    """List the results container until each uploaded blob has its document; read them all. Listing
    is slow on purpose (it loads Azurite too): the spans, not this, time each document."""
    wanted = {f"{name}.json": name for name in drop.uploaded}
    deadline = time.monotonic() + timeout
    while len(drop.seen) < len(wanted):
        now = time.time()
        for item in results.list_blobs():
            name = wanted.get(item.name)
            if name is not None and name not in drop.seen:
                drop.seen[name] = now
        if len(drop.seen) < len(wanted):
            if time.monotonic() > deadline:
                missing = sorted(set(wanted.values()) - set(drop.seen))
                raise TimeoutError(
                    f"{len(missing)} of {len(wanted)} result documents missing after {timeout:.0f} s, "
                    f"e.g. {missing[:3]}"
                )
            time.sleep(every)
    for document_name, name in wanted.items():
        drop.documents[name] = json.loads(results.download_blob(document_name).readall())


def stage_cpu(records: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Mean CPU seconds per attempt in each stage (the attempt's thread only) and the remainder."""
    if not records:
        return {}
    count = len(records)
    out = {stage: sum(r.get("cpu", {}).get(stage, 0.0) for r in records.values()) / count for stage in STAGES}
    total = sum(r.get("cpu", {}).get("attempt_total", 0.0) for r in records.values()) / count
    out["other"] = total - sum(out.values())
    out["attempt_total"] = total
    return out


def analyse(drop: Drop, attempts: dict[str, dict[str, Any]], expected_tags: dict[str, str | None]) -> dict:
    """Throughput, latency, document checks and per-stage times of one phase (``attempts``: bench.spans)."""
    names = list(drop.uploaded)
    records = {name: attempts[name] for name in names if name in attempts}
    written = {n: r.get("resultWritten") or r["ended"] for n, r in records.items()}
    # Each document's time: when its write ended (its span); without a span, when it was listed.
    done_at = {n: written.get(n, drop.seen[n]) for n in names}
    elapsed = max(done_at.values()) - drop.first_upload_started
    latencies = [done_at[n] - drop.uploaded[n] for n in names]
    wrong_etag = [n for n in names if drop.documents[n].get("blob", {}).get("etag") != drop.etags[n]]
    errors = [n for n in names if drop.documents[n].get("status") != "ok"]
    right = sum(
        1
        for n in names
        if expected_tags.get(n) and (drop.documents[n].get("tags") or [None])[0] == expected_tags[n]
    )
    labelled = sum(1 for n in names if expected_tags.get(n))
    stages: dict[str, dict[str, float]] = {}
    if records:
        for stage in STAGES:
            stages[stage] = summary([r["stages"].get(stage, 0.0) for r in records.values()])
        # upload -> the invocation starts: devhost's polling delay and the wait for a free worker
        stages["trigger_delay"] = summary([r["started"] - drop.uploaded[n] for n, r in records.items()])
        stages["attempt_total"] = summary([r["ended"] - r["started"] for r in records.values()])
    return {
        "images": len(names),
        "seconds": elapsed,
        "perSecond": len(names) / elapsed,
        "latency": summary(latencies),
        "documents": len(drop.documents),
        "errorDocuments": len(errors),
        "wrongEtag": len(wrong_etag),
        "topTagRight": right,
        "labelled": labelled,
        "traced": len(records),
        "stages": stages,
        "stageCpu": stage_cpu(records),
        "ended": max(done_at.values()),
    }
