"""The result document: one JSON per input image, written to results/{name}.json (schema version 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.errors import PipelineError

SCHEMA_VERSION = 1


def utc_now() -> str:
    """An ISO-8601 UTC timestamp with seconds, e.g. 2026-11-25T02:00:00Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def blob_info(container: str, name: str, etag: str, size: int | None) -> dict[str, Any]:
    return {"container": container, "name": name, "etag": etag, "size": size}


def predictions_of(result: Any) -> list[dict[str, Any]]:
    """The SDK's ImagePrediction.predictions as camelCase dicts, highest probability first."""
    rows = [
        {"tagName": p.tag_name, "tagId": p.tag_id, "probability": round(float(p.probability), 6)}
        for p in result.predictions or []
    ]
    return sorted(rows, key=lambda row: (-row["probability"], row["tagName"]))


def ok_document(
    *,
    source: dict[str, Any],
    source_key: str,
    project_id: str,
    published_name: str,
    iteration_id: str | None,
    threshold: float,
    predictions: list[dict[str, Any]],
) -> dict[str, Any]:
    """A classification; ``source_key`` is "blob" for stored results, "source" for the quick test."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "status": "ok",
        source_key: source,
        "model": {"projectId": project_id, "publishedName": published_name, "iterationId": iteration_id},
        "threshold": threshold,
        "tags": [p["tagName"] for p in predictions if p["probability"] >= threshold],
        "predictions": predictions,
        "classifiedAt": utc_now(),
    }


def error_document(*, source: dict[str, Any], source_key: str, error: PipelineError) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "status": "error",
        source_key: source,
        "error": error.as_dict(),
        "classifiedAt": utc_now(),
    }


def top_probability(document: dict[str, Any]) -> float:
    predictions = document.get("predictions") or []
    return predictions[0]["probability"] if predictions else 0.0
