"""TELEMETRY_EXPORTER=file: spans and metrics as JSON lines in one local file (TELEMETRY_FILE), no network.

One line per span: ``{"kind": "span", "trace", "span", "parent", "name", "start", "end", "status",
"attributes", "events", "cpu"}`` (times in seconds since the epoch; ``cpu``: CPU seconds of the thread
that ran the span, which App Insights does not have); one line per metric and export interval:
``{"kind": "metric", "name", ...}`` as the OpenTelemetry SDK serialises it. Spans are written in batches
by the SDK's BatchSpanProcessor (every half second), off the thread that classifies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

SCHEDULE_DELAY_MS = 500


class _Lines:
    """The open file, shared by the span and metric exporters (each exports from its own thread)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        with self._lock:
            self._file.write(text)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def span_record(span: ReadableSpan, cpu: float | None) -> dict[str, Any]:
    context, parent = span.context, span.parent
    return {
        "kind": "span",
        "trace": _hex(context.trace_id, 32) if context else None,
        "span": _hex(context.span_id, 16) if context else None,
        "parent": _hex(parent.span_id, 16) if parent else None,
        "name": span.name,
        "start": (span.start_time or 0) / 1e9,
        "end": (span.end_time or 0) / 1e9,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
        "cpu": cpu,
    }


class SpanLines(SpanExporter):
    def __init__(self, lines: _Lines, cpu: dict[int, float]) -> None:
        self._lines, self._cpu = lines, cpu

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        pop = self._cpu.pop
        self._lines.write(
            [span_record(s, pop(s.context.span_id, None) if s.context else None) for s in spans]
        )
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._lines.close()


class ThreadCpuBatch(BatchSpanProcessor):
    """The SDK's batch processor, noting each span's thread CPU time (start and end run on its thread)."""

    def __init__(self, exporter: SpanExporter, cpu: dict[int, float]) -> None:
        super().__init__(exporter, schedule_delay_millis=SCHEDULE_DELAY_MS)
        self._cpu = cpu

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._cpu[span.context.span_id] = time.thread_time()

    def on_end(self, span: ReadableSpan) -> None:
        span_id = span.context.span_id
        started = self._cpu.get(span_id)
        if started is not None:
            self._cpu[span_id] = time.thread_time() - started
        super().on_end(span)


class MetricLines(MetricExporter):
    def __init__(self, lines: _Lines) -> None:
        super().__init__()
        self._lines = lines

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        records = [
            {"kind": "metric", "time": time.time(), **json.loads(metric.to_json(indent=None))}
            for resource in metrics_data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        ]
        if records:
            self._lines.write(records)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def install(path: Path) -> None:
    """Make the process's tracer and meter providers write to ``path`` (appending)."""
    lines = _Lines(path)
    cpu: dict[int, float] = {}
    resource = Resource.create({"service.name": "pipeline"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(ThreadCpuBatch(SpanLines(lines, cpu), cpu))
    trace.set_tracer_provider(provider)
    # the export interval: OTEL_METRIC_EXPORT_INTERVAL (ms; the SDK's default, 60 s)
    metrics.set_meter_provider(
        MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(MetricLines(lines))])
    )
