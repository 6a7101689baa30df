"""One benchmark round on a private stack: localvision alone, retrain cycles, then the pipeline."""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import console, onnx, pipeline, procs, retrain, spans, telemetry_cost, vision
from bench.stats import summary
from devhost.config import load_host_config
from devstack import photos
from devstack.paths import HOST_JSON
from devstack.stack import LocalStack
from devstack.vision import train_and_publish

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Plan:
    images: int  # photos dropped into images/ in the burst
    training: int  # photos the model is trained on (45: the fruit set itself; more: copies of it)
    paced: int  # photos dropped one by one for the latency bar
    latency_calls: int = 100  # sequential classify calls for localvision's latency
    rps_images: int = 100  # images per localvision throughput measurement
    parallelism: int | None = None  # blob-trigger parallelism; None: host.json's
    onnx: bool = True  # also the burst in onnx mode
    bursts: int = 3  # bursts per mode; the bars take the median of their ratios
    console: bool = True  # also the console's first gallery page over 10,000 documents


COMPACT = {"CUSTOMVISION_DOMAIN": "General (compact)"}


def host_json(plan: Plan, workdir: Path) -> Path:
    """The project's host.json, or a copy with ``plan.parallelism`` as the blob-trigger parallelism."""
    shipped = HOST_JSON
    if plan.parallelism is None:
        return shipped
    data = json.loads(shipped.read_text(encoding="utf-8"))
    data.setdefault("extensions", {}).setdefault("blobs", {})["maxDegreeOfParallelism"] = plan.parallelism
    path = workdir / "host.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def blob_parallelism(path: Path) -> int:
    """devhost's blob-trigger parallelism: extensions.blobs.maxDegreeOfParallelism of its host.json."""
    return load_host_config(path).blobs.max_degree_of_parallelism


def training_set(root: Path, count: int) -> list[photos.Photo]:
    """The 45 fruit photos, or ``count`` copies taking the tags in turn (15 or more: 5+ per tag)."""
    base = photos.training(root)
    if count == len(base):
        return base
    by_tag: dict[str | None, list[photos.Photo]] = {}
    for photo in base:
        by_tag.setdefault(photo.tag, []).append(photo)
    turns = [photo for group in zip(*by_tag.values(), strict=False) for photo in group]
    return photos.copies(turns, count, "t")


def measure_localvision(stack: LocalStack, plan: Plan, root: Path) -> dict[str, Any]:
    log.info("localvision: training on %d photos", plan.training)
    trained = train_and_publish(
        stack.endpoint, "Bench Direct", training_set(root, plan.training), vision.PUBLISHED_NAME
    )
    memory = procs.rss_mb(stack.localvision.process.pid)
    client = vision.predictor(stack.endpoint)
    one = vision.as_1024x768(photos.test_photos(root)[0].data)
    log.info("localvision: %d sequential classify calls", plan.latency_calls)
    latencies = vision.classify_latencies(
        client, trained.project_id, vision.PUBLISHED_NAME, one, plan.latency_calls
    )
    sources = photos.test_photos(root) + photos.training(root)
    images = [p.data for p in photos.copies(sources, plan.rps_images, "r")]
    rates = {}
    for concurrency in (1, 4):
        result = vision.classify_throughput(
            client, trained.project_id, vision.PUBLISHED_NAME, images, concurrency
        )
        rates[concurrency] = {"perSecond": result.per_second, "latency": summary(result.latencies)}
    return {
        "trainingImages": trained.images,
        "trainingSeconds": trained.seconds,
        "memoryAfterTrainingMB": memory,
        "classifyLatency": summary(latencies),
        "throughput": rates,
    }


def measure_retrain(stack: LocalStack, plan: Plan, root: Path) -> dict[str, Any]:
    training = stack.values["TRAINING_CONTAINER"]
    retrain.upload_training(stack.conn_str, training, training_set(root, plan.training))
    runs = {}
    log.info("retrain: first cycle (%d photos)", plan.training)
    runs["first"] = retrain.cycle(stack.devhost_url)
    log.info("retrain: nothing new")
    runs["nothingNew"] = retrain.cycle(stack.devhost_url)
    retrain.upload_training(stack.conn_str, training, photos.more_training(root))
    log.info("retrain: 6 new photos")
    runs["sixNew"] = retrain.cycle(stack.devhost_url)
    out = {}
    for key, run in runs.items():
        out[key] = {
            "seconds": run["seconds"],
            "status": run["status"],
            "reason": run.get("reason"),
            "error": run.get("error"),
            "sync": {
                k: run["sync"][k]
                for k in ("listed", "uploaded", "retagged", "deleted", "unchanged", "failed")
            },
            "steps": retrain.step_seconds(run),
            "iteration": (run.get("iteration") or {}).get("id"),
            "projectId": run.get("projectId"),
            "gate": run.get("gate"),
        }
    return out


def fruit_sources(root: Path) -> list[photos.Photo]:
    return photos.test_photos(root) + photos.training(root) + photos.more_training(root)


def expected_tags(batch: list[photos.Photo]) -> dict[str, str | None]:
    """Each copy's fruit: its folder's tag, or the test photo's it was copied from."""
    return {p.name: p.tag or photos.TEST_TAGS.get(p.name.rsplit("-", 1)[-1]) for p in batch}


def measure_burst(
    stack: LocalStack, plan: Plan, root: Path, prefix: str
) -> tuple[list[photos.Photo], Any, dict[str, Any]]:
    """A warm-up, then a burst of ``plan.images`` distinct fruit photos: the photos, the drop and its
    analysis (stages from the product's spans) with CPU per photo of every process."""
    images, results = pipeline.containers(stack.conn_str, stack.values)
    sources = fruit_sources(root)
    label = prefix.rstrip("-") or "pipeline"
    warm = photos.copies(sources, 8, f"{prefix}warm-")
    log.info("%s: warm-up with %d photos", label, len(warm))
    pipeline.wait_for_documents(results, pipeline.burst(images, warm), timeout=120)
    batch = photos.copies(sources, plan.images, f"{prefix}burst-")
    pids = process_ids(stack)
    log.info("%s: burst of %d photos", label, plan.images)
    cpu_before = procs.cpu_snapshot(pids)
    drop = pipeline.burst(images, batch)
    pipeline.wait_for_documents(results, drop, timeout=120 + plan.images)
    cpu_burst = procs.cpu_used(cpu_before, procs.cpu_snapshot(pids))
    traced = spans.attempts_when_written(stack.telemetry_file, list(drop.uploaded))
    burst = pipeline.analyse(drop, traced, expected_tags(batch))
    burst["cpuSecondsPerImage"] = {name: used / plan.images for name, used in cpu_burst.items()}
    return batch, drop, burst


def bursts(
    stack: LocalStack, plan: Plan, root: Path, prefix: str
) -> list[tuple[list[photos.Photo], Any, dict]]:
    """``plan.bursts`` bursts, each of new photos (the bars take the median of the three)."""
    return [measure_burst(stack, plan, root, f"{prefix}b{n + 1}-") for n in range(plan.bursts)]


def median_of(runs: list[dict[str, Any]], key: str) -> tuple[float, dict[str, Any]]:
    """The median of ``key`` over ``runs`` and the run that has it (three runs: the middle one)."""
    value = statistics.median_low([r[key] for r in runs])
    return value, next(r for r in runs if r[key] == value)


def measure_pipeline(stack: LocalStack, plan: Plan, root: Path, project_id: str, concurrency: int) -> dict:
    images, results = pipeline.containers(stack.conn_str, stack.values)
    measured = bursts(stack, plan, root, "")
    for _, _, burst in measured:
        # the bar: the host and the pipeline (one process) against the model service, same burst
        burst["cpuRatio"] = (
            burst["cpuSecondsPerImage"]["devhost"] / burst["cpuSecondsPerImage"]["localvision"]
        )
    ratio, burst = median_of([b for _, _, b in measured], "cpuRatio")
    batch = measured[0][0]
    pids = process_ids(stack)

    log.info("localvision alone: the same %d photos from %d threads", plan.images, concurrency)
    cpu_before = procs.cpu_snapshot(pids)
    baseline = vision.classify_throughput(
        vision.predictor(stack.endpoint),
        project_id,
        stack.values["PUBLISHED_NAME"],
        [p.data for p in batch],
        concurrency,
    )
    cpu_alone = procs.cpu_used(cpu_before, procs.cpu_snapshot(pids))

    rate = max(0.5, burst["perSecond"] / 2)
    paced_batch = photos.copies(fruit_sources(root), plan.paced, "paced-")
    log.info("pipeline: %d photos one by one at %.1f/s", plan.paced, rate)
    drop = pipeline.paced(images, paced_batch, rate)
    pipeline.wait_for_documents(results, drop, timeout=120 + plan.paced)
    traced = spans.attempts_when_written(stack.telemetry_file, list(drop.uploaded))
    paced = pipeline.analyse(drop, traced, expected_tags(paced_batch))
    paced["rate"] = rate
    return {
        "blobParallelism": concurrency,
        "burst": burst,
        "bursts": [b for _, _, b in measured],
        "paced": paced,
        "localvisionAlone": {
            "images": baseline.images,
            "concurrency": concurrency,
            "perSecond": baseline.per_second,
            "latency": summary(baseline.latencies),
            # includes the concurrency x 2 warm-up calls before the timed ones
            "cpuSecondsPerImage": {name: used / plan.images for name, used in cpu_alone.items()},
        },
        "ratio": burst["perSecond"] / baseline.per_second,
        "cpuRatio": ratio,
        "cpuRatios": [b["cpuRatio"] for _, _, b in measured],
    }


def measure_onnx(
    stack: LocalStack, plan: Plan, root: Path, config: Path, project_id: str, iteration_id: str
) -> dict[str, Any]:
    """The same bursts in onnx mode: the published iteration exported and made current, devhost restarted
    with CLASSIFIER_MODE=onnx; then the bare model on the same photos in this process."""
    log.info("onnx: exporting iteration %s", iteration_id)
    started = time.perf_counter()
    zip_bytes = onnx.export_zip(stack, project_id, iteration_id)
    onnx.place(stack, zip_bytes, project_id, iteration_id)
    export_seconds = time.perf_counter() - started
    assert stack.devhost is not None
    stack.devhost.stop(timeout=60)
    stack.start_devhost({**stack.overrides, "CLASSIFIER_MODE": "onnx"}, host_json=config)
    measured = bursts(stack, plan, root, "onnx-")
    batch = measured[0][0]
    log.info("onnx: the bare model on the same %d photos", plan.images)
    bare = onnx.bare_model(zip_bytes, [p.data for p in batch])
    with_preprocess = bare["modelCpuSecondsPerImage"] + bare["preprocessCpuSecondsPerImage"]
    for _, drop, burst in measured:
        burst["onnxDocuments"] = sum(
            1 for d in drop.documents.values() if (d.get("model") or {}).get("source") == "onnx"
        )
        # all processes but Azurite: devhost (host + pipeline + model) and localvision (idle in onnx mode);
        # the bench process is the load (uploads, listing the results) and is shown apart
        cpu = sum(v for k, v in burst["cpuSecondsPerImage"].items() if k not in ("azurite", "bench"))
        burst["cpuPerImage"] = cpu
        burst["cpuRatio"] = cpu / bare["modelCpuSecondsPerImage"]
        # the bar: against what any consumer of the model pays per photo (decode, resize, run)
        burst["cpuRatioWithPreprocess"] = cpu / with_preprocess
    ratio, burst = median_of([b for _, _, b in measured], "cpuRatioWithPreprocess")
    return {
        "exportSeconds": export_seconds,
        "zipBytes": len(zip_bytes),
        "burst": burst,
        "bursts": [b for _, _, b in measured],
        "bare": bare,
        "cpuPerImage": burst["cpuPerImage"],
        "cpuRatio": burst["cpuRatio"],
        "cpuRatioWithPreprocess": ratio,
        "cpuRatiosWithPreprocess": [b["cpuRatioWithPreprocess"] for _, _, b in measured],
    }


def process_ids(stack: LocalStack) -> dict[str, int]:
    """The stack's processes and this one (the uploader and poller), for CPU accounting."""
    pids = {"localvision": stack.localvision.process.pid, "azurite": stack.azurite.process.pid}
    if stack.devhost is not None:
        pids["devhost"] = stack.devhost.process.pid
    return {**pids, "bench": os.getpid()}


def process_memory(stack: LocalStack) -> dict[str, dict[str, float]]:
    out = {"localvision": procs.rss_mb(stack.localvision.process.pid)}
    if stack.devhost is not None:
        out["devhost"] = procs.rss_mb(stack.devhost.process.pid)
    return out


def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    """Everything for one plan on a fresh stack in ``workdir``; the stack is stopped afterwards."""
    root = photos.require()
    started = time.perf_counter()
    stack = LocalStack.start(workdir)
    try:
        figures: dict[str, Any] = {"plan": plan.__dict__}
        figures["localvision"] = measure_localvision(stack, plan, root)
        config = host_json(plan, workdir)
        # A compact domain, so that the same project's iteration can be exported for onnx mode.
        stack.start_devhost(COMPACT, host_json=config)
        figures["retrain"] = measure_retrain(stack, plan, root)
        project_id = figures["retrain"]["first"]["projectId"]
        figures["pipeline"] = measure_pipeline(stack, plan, root, project_id, blob_parallelism(config))
        if plan.onnx:
            iteration_id = onnx.published_iteration(stack, project_id)
            figures["onnx"] = measure_onnx(stack, plan, root, config, project_id, iteration_id)
        if plan.console:
            log.info("console: %d result documents, first gallery page", console.DOCUMENTS)
            figures["console"] = console.measure(stack)
        figures["memoryAtEndMB"] = process_memory(stack)
    finally:
        stack.stop()
    figures["telemetry"] = telemetry_cost.in_child()
    figures["seconds"] = time.perf_counter() - started
    return figures
