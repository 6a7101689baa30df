"""The telemetry's own CPU per photo: ``python -m bench.telemetry_cost [--photos N]`` (prints JSON).

Runs the product's span code for one blob-trigger attempt (devhost's invocation, download and receipt,
the app's ``classify image`` with its stages and metrics, exactly the helpers the pipeline calls) around
empty stages, N times without a configured provider (the API's no-ops) and N times with the
TELEMETRY_EXPORTER=file export to a temporary file, and reports the difference of the process's CPU time
(every thread: the SDK's batch exporter too) per photo. A process sets its providers once, so this runs
in its own process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devhost import tracing
from devstack.paths import PROJECT_ROOT
from shared import telemetry
from shared.telemetry import jsonl

ETAG = '"0x8DE1234567890AB"'
CHUNK = 200  # photos between two flushes: 1,400 spans, within the SDK's queue of 2,048


class _Blob:
    def __init__(self, index: int) -> None:
        self.name, self.etag = f"photos/photo-{index}.jpg", ETAG


class _Classifier:
    @telemetry.image_span
    def classify_blob(self, blob: _Blob, data: bytes) -> dict[str, Any]:
        with telemetry.stage("normalise"):
            pass
        with telemetry.predict_span("service") as answered_by:
            answered_by("5e2b3c4d-0000-4000-8000-000000000001")
        return self.store()

    @telemetry.traced("write result")
    def store(self) -> dict[str, Any]:
        return {"status": "ok"}


@tracing.step("download")
def _download() -> None:
    return None


@tracing.step("receipt")
def _receipt() -> None:
    return None


def _photos(count: int, start: int) -> float:
    classifier = _Classifier()
    cpu = time.process_time()
    for index in range(start, start + count):
        blob = _Blob(index)
        with tracing.invocation("classify", "blobTrigger", **tracing.blob("images", blob.name, ETAG)):
            _download()
            classifier.classify_blob(blob, b"")
            _receipt()
    return time.process_time() - cpu


def measure(count: int) -> dict[str, float]:
    _photos(200, 0)  # warm
    off = _photos(count, 0)
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "telemetry.jsonl"
        jsonl.install(path)
        from opentelemetry import trace

        _photos(200, 0)
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        on = 0.0
        for start in range(count, 2 * count, CHUNK):  # in chunks, so the exporter's queue never overflows
            cpu = time.process_time()
            _photos(min(CHUNK, 2 * count - start), start)
            trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
            on += time.process_time() - cpu
        lines = sum(1 for _ in path.open())
    return {
        "photos": count,
        "spansPerPhoto": (lines - 200 * 7) / count,
        "cpuSecondsPerPhoto": (on - off) / count,
        "noopCpuSecondsPerPhoto": off / count,
    }


def in_child(count: int = 3000) -> dict[str, float]:
    """``measure`` in a process of its own (this one may already have providers, or want none)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.telemetry_cost", "--photos", str(count)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.telemetry_cost", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--photos", type=int, default=3000)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.photos)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
