"""``python -m devstack traces [--image NAME] [--run RUN_ID] [-n N]``: the last traces of the local stack.

devhost writes its spans (and the app's) as JSON lines to TELEMETRY_FILE (TELEMETRY_EXPORTER=file, as
local.settings.json.example sets; docs/telemetry.md). This reads that file and prints traces as trees: by
default the last image's trace and the last retrain run's steps; ``--image`` one image's (every version),
``--run`` one run's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.paths import LOCAL, PROJECT_ROOT

DEFAULT_FILE = LOCAL / "telemetry.jsonl"
SHOWN = ("blob.name", "blob.etag", "backend", "iteration.id", "run.id", "outcome", "error.code")


@dataclass
class Trace:
    trace_id: str
    spans: list[dict[str, Any]] = field(default_factory=list)

    @property
    def start(self) -> float:
        return min(s["start"] for s in self.spans)

    def attribute(self, name: str) -> set[Any]:
        return {s["attributes"][name] for s in self.spans if name in s["attributes"]}

    def roots(self) -> list[dict[str, Any]]:
        ids = {s["span"] for s in self.spans}
        return sorted((s for s in self.spans if s["parent"] not in ids), key=lambda s: s["start"])

    def children(self, span_id: str) -> list[dict[str, Any]]:
        return sorted((s for s in self.spans if s["parent"] == span_id), key=lambda s: s["start"])


def telemetry_file(values: dict[str, str]) -> Path:
    """The stack's file: TELEMETRY_FILE of local.settings.json (relative to the project), else .local's."""
    named = values.get("TELEMETRY_FILE")
    return (PROJECT_ROOT / named) if named else DEFAULT_FILE


def read_spans(path: Path) -> Iterator[dict[str, Any]]:
    """The span lines of ``path`` (a line cut short by a running writer is skipped)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("kind") == "span":
                yield record


def traces(spans: Iterable[dict[str, Any]]) -> list[Trace]:
    """Spans grouped by trace, oldest first."""
    by_id: dict[str, Trace] = {}
    for span in spans:
        by_id.setdefault(span["trace"], Trace(span["trace"])).spans.append(span)
    return sorted(by_id.values(), key=lambda t: t.start)


def select(all_traces: list[Trace], image: str | None, run: str | None, count: int) -> list[Trace]:
    """The traces of ``image`` or of ``run``; with neither, the last image's and the last run's."""
    if image is not None:
        return [t for t in all_traces if image in t.attribute("blob.name")][-count:]
    if run is not None:
        return [t for t in all_traces if run in t.attribute("run.id")][-count:]
    images = [t for t in all_traces if any(s["name"] == "classify image" for s in t.spans)]
    runs = [t for t in all_traces if t.attribute("run.id")]
    chosen = images[-count:]
    if runs:
        last_run = max(runs[-1].attribute("run.id"))
        chosen += [t for t in runs if last_run in t.attribute("run.id")]
    return sorted(chosen, key=lambda t: t.start)


def _line(span: dict[str, Any], depth: int) -> str:
    ms = (span["end"] - span["start"]) * 1000
    attributes = " ".join(f"{k}={span['attributes'][k]}" for k in SHOWN if k in span["attributes"])
    failed = " FAILED" if span["status"] == "ERROR" else ""
    text = f"{'  ' * depth}{span['name']}{failed}"
    return f"{text:<40} {ms:9.1f} ms  {attributes}".rstrip()


def render(trace: Trace) -> list[str]:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(trace.start))
    lines = [f"trace {trace.trace_id} at {started}"]

    def walk(span: dict[str, Any], depth: int) -> None:
        lines.append(_line(span, depth + 1))
        for child in trace.children(span["span"]):
            walk(child, depth + 1)

    for root in trace.roots():
        walk(root, 0)
    return lines


def show(path: Path, image: str | None = None, run: str | None = None, count: int = 1) -> list[str]:
    """What ``python -m devstack traces`` prints."""
    if not path.exists():
        return [
            f"no traces yet: {path} does not exist. devhost writes it with TELEMETRY_EXPORTER=file in "
            "local.settings.json (as local.settings.json.example sets it; then `make down && make up`)"
        ]
    chosen = select(traces(read_spans(path)), image, run, count)
    if not chosen:
        what = f"image {image}" if image else f"run {run}" if run else "an image or a retrain run"
        return [f"no trace of {what} in {path}"]
    out: list[str] = []
    for trace in chosen:
        out += [*render(trace), ""]
    return out
