"""Profile the classify path through devhost: ``python -m bench.profile [--mode service|onnx|both]``.

A private stack (Azurite, localvision, devhost through bench.profiled), the 45 fruit photos trained by
one retrain cycle on a compact domain, then a burst of photos per mode; each blob-trigger attempt runs
under cProfile in devhost's worker threads. Prints, per mode, the CPU per stage (the thread CPU of each
span, from the product's spans), the profile's time by package and its top functions by own time.
The profiler counts thread CPU time (waiting is not counted) and roughly doubles the CPU of what it
profiles: read the shares, not the absolute figures.
"""

from __future__ import annotations

import argparse
import logging
import pstats
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench import onnx, pipeline, profiled, retrain, spans
from bench.run import COMPACT
from devstack import photos
from devstack.paths import HOST_JSON
from devstack.stack import LocalStack

log = logging.getLogger("bench")
# The package a function belongs to, by the first of these found in its file path.
AREAS = (
    "azure/storage", "azure/core", "azure/cognitiveservices", "msrest", "requests", "urllib3", "http/client",
    "ssl", "socket", "PIL", "onnxruntime", "numpy", "json", "logging", "xml", "email", "concurrent",
    "threading", "uuid", "opentelemetry", "devhost", "shared", "bench",
)  # fmt: skip


def area(filename: str) -> str:
    for name in AREAS:
        if f"/{name}/" in filename or filename.endswith(f"/{name}.py"):
            return name
    return "built-in" if filename.startswith("~") or filename.startswith("<") else "other"


def merged(prefix: Path) -> pstats.Stats | None:
    files = sorted(str(p) for p in prefix.parent.glob(prefix.name + ".*"))
    if not files:
        return None
    stats = pstats.Stats(files[0])
    for file in files[1:]:
        stats.add(file)
    return stats


def report(mode: str, stats: pstats.Stats | None, records: dict[str, dict], top: int) -> None:
    print(f"\n=== {mode} mode: {len(records)} attempts ===")
    print("CPU per attempt by stage (ms, the worker thread, profiled):")
    for stage, seconds in pipeline.stage_cpu(records).items():
        print(f"  {stage:<14} {seconds * 1000:7.2f}")
    if stats is None:
        print("(no profile written)")
        return
    by_area: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[area(filename)] += own
        total += own
    print("own time by package (share of the profiled time):")
    for name, seconds in sorted(by_area.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {name:<24} {seconds / total:6.1%}")
    print(f"top {top} functions by own time:")
    stats.sort_stats("tottime").print_stats(top)


def burst(stack: LocalStack, root: Path, prefix: str, count: int) -> list[str]:
    """The burst's photos through the pipeline; their blob names."""
    images, results = pipeline.containers(stack.conn_str, stack.values)
    sources = photos.test_photos(root) + photos.training(root) + photos.more_training(root)
    pipeline.wait_for_documents(
        results, pipeline.burst(images, photos.copies(sources, 8, prefix + "w-")), 120
    )
    drop = pipeline.burst(images, photos.copies(sources, count, prefix))
    pipeline.wait_for_documents(results, drop, timeout=120 + count)
    return list(drop.uploaded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("service", "onnx", "both"), default="both")
    parser.add_argument("--images", type=int, default=100, help="photos per burst (default 100)")
    parser.add_argument("--top", type=int, default=25, help="functions listed (default 25)")
    parser.add_argument("--workdir", type=Path, help="keep the stack's data, logs and profiles here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    root = photos.require()
    modes = ("service", "onnx") if args.mode == "both" else (args.mode,)
    records: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as temp:
        workdir = args.workdir or Path(temp)
        workdir.mkdir(parents=True, exist_ok=True)
        stack = LocalStack.start(workdir / "stack")
        try:
            stack.start_devhost(COMPACT, host_json=HOST_JSON)
            retrain.upload_training(stack.conn_str, stack.values["TRAINING_CONTAINER"], photos.training(root))
            project_id = retrain.cycle(stack.devhost_url)["projectId"]
            for mode in modes:
                assert stack.devhost is not None
                stack.devhost.stop(timeout=60)
                if mode == "onnx":
                    iteration = onnx.published_iteration(stack, project_id)
                    onnx.place(stack, onnx.export_zip(stack, project_id, iteration), project_id, iteration)
                overrides = {**COMPACT, "CLASSIFIER_MODE": mode}
                stack.start_devhost(overrides, HOST_JSON, profiled.runner(str(workdir / f"{mode}.prof")))
                log.info("%s mode: burst of %d photos, profiled", mode, args.images)
                names = burst(stack, root, f"{mode}-", args.images)
                traced = spans.attempts_when_written(stack.telemetry_file, names)
                records[mode] = {name: traced[name] for name in names if name in traced}
        finally:
            stack.stop()
        for mode in modes:
            report(mode, merged(workdir / f"{mode}.prof"), records[mode], args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
