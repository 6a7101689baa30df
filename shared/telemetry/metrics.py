"""The pipeline's metrics (OpenTelemetry API): images by outcome, prediction latency, retrain duration,
Custom Vision retries (429s among them) and waits."""

from __future__ import annotations

from datetime import datetime

from opentelemetry import metrics

METER = metrics.get_meter("pipeline")
IMAGES = METER.create_counter(
    "pipeline.images", unit="{image}", description="Images classified, sent to review or failed (by reason)"
)
PREDICTION = METER.create_histogram(
    "pipeline.prediction.duration", unit="ms", description="One prediction, service call or in-process model"
)
RETRAIN = METER.create_histogram(
    "pipeline.retrain.duration", unit="s", description="A retrain run from its start to its end, by status"
)
RETRIES = METER.create_counter(
    "pipeline.customvision.retries", unit="{call}", description="Custom Vision calls retried, by error code"
)
WAITS = METER.create_histogram(
    "pipeline.customvision.wait", unit="s", description="Time waited before a Custom Vision call, by reason"
)


def image(outcome: str, reason: str | None, backend: str) -> None:
    attributes = {"outcome": outcome, "backend": backend or "none"}
    if reason:
        attributes["reason"] = reason
    IMAGES.add(1, attributes)


def prediction(seconds: float, backend: str) -> None:
    PREDICTION.record(seconds * 1000.0, {"backend": backend})


def retrain_finished(status: str, started_at: str, finished_at: str | None) -> None:
    """A run ended; its duration from the record's ISO 8601 times (nothing recorded when one is missing)."""
    try:
        seconds = (
            datetime.fromisoformat(finished_at or "") - datetime.fromisoformat(started_at)
        ).total_seconds()
    except ValueError:
        return
    RETRAIN.record(max(seconds, 0.0), {"status": status})


def retried(operation: str, code: str, delay: float) -> None:
    """A transient failure (``Throttled`` for a 429) retried after ``delay`` seconds."""
    RETRIES.add(1, {"operation": operation, "code": code})
    WAITS.record(delay, {"reason": "retry", "code": code})


def rate_waited(seconds: float) -> None:
    """A prediction waited its turn under the client-side rate limit (PREDICTION_MAX_TPS)."""
    WAITS.record(seconds, {"reason": "rate_limit"})
