"""The benchmark's stage breakdown from the product's own spans (TELEMETRY_EXPORTER=file, docs/telemetry.md).

devhost writes each blob-trigger attempt as a trace: ``Functions.classify`` (the invocation) with the host's
``download`` and ``receipt`` and the app's ``classify image`` (``normalise``, ``predict``, ``write result``,
``review copy``). Per attempt this gives wall time per stage, as Application Insights shows it, and the
CPU time of the worker thread per stage, which the local export adds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from devstack.traces import Trace, read_spans, traces

ROOT = "Functions.classify"
STAGES = {
    "download": "download",
    "normalise": "normalise",
    "predict": "predict",
    "write result": "write_result",
    "review copy": "review_copy",
    "receipt": "receipt",
}


def _record(trace: Trace) -> dict[str, Any] | None:
    roots = [s for s in trace.spans if s["name"] == ROOT and s["parent"] is None]
    if len(roots) != 1 or roots[0]["status"] == "ERROR":
        return None
    root = roots[0]
    stages: dict[str, float] = {}
    cpu: dict[str, float] = {"attempt_total": root.get("cpu") or 0.0}
    written = None
    for span in trace.spans:
        stage = STAGES.get(span["name"])
        if stage is None:
            continue
        stages[stage] = stages.get(stage, 0.0) + span["end"] - span["start"]
        cpu[stage] = cpu.get(stage, 0.0) + (span.get("cpu") or 0.0)
        if stage == "write_result":
            written = span["end"]
    if "receipt" not in stages:  # the attempt did not finish (or its receipt's span is not written yet)
        return None
    return {
        "blob": root["attributes"].get("blob.name"),
        "started": root["start"],
        "ended": root["end"],
        "stages": stages,
        "cpu": cpu,
        "resultWritten": written,
    }


def attempts(path: Path) -> dict[str, dict[str, Any]]:
    """The last finished classify attempt per blob name, from the spans in ``path``."""
    out: dict[str, dict[str, Any]] = {}
    for trace in traces(read_spans(path)):
        record = _record(trace)
        if record is not None and record["blob"]:
            out[record["blob"]] = record
    return out


def attempts_when_written(path: Path, names: list[str], timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """``attempts`` once every one of ``names`` has its attempt in the file (the SDK writes its batches
    every half second, so the last photos' spans follow their documents), or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = attempts(path)
        if all(name in found for name in names) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
