"""The result document (one JSON per input image, results/{name}.json) and the error document.

Both are typed here and published as JSON Schema (docs/schemas/, see docs/contracts.md).
``schemaVersion`` rises only when a change would break a reader (a field removed, renamed or retyped);
adding an optional field keeps it.
"""

from __future__ import annotations

import email.utils
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from shared.contracts import OMIT_IF_NONE, encode
from shared.errors import PipelineError

SCHEMA_VERSION = 1
# Azure refuses blob names over 1,024 characters; a longer result name is replaced by a hashed one.
MAX_BLOB_NAME = 1024
LONG_NAMES_PREFIX = "long-names/"
_ONE_OF_SOURCE = {"oneOf": [{"required": ["blob"]}, {"required": ["source"]}]}


def utc_now() -> str:
    """An ISO-8601 UTC timestamp with seconds, e.g. 2026-11-25T02:00:00Z."""
    return timestamp(datetime.now(UTC))


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_last_modified(value: Any) -> str | None:
    """A blob's last-modified time (datetime, ISO-8601 or HTTP date) as a document timestamp, or None."""
    if isinstance(value, datetime):
        return timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def document_name(image_name: str) -> str:
    """Where an image's result document goes: {name}.json, or long-names/{sha256 of name}.json when that
    would pass Azure's blob-name limit (the document's blob.name still holds the full name)."""
    name = f"{image_name}.json"
    if len(name) <= MAX_BLOB_NAME:
        return name
    return f"{LONG_NAMES_PREFIX}{hashlib.sha256(image_name.encode()).hexdigest()}.json"


@dataclass(frozen=True)
class BlobInfo:
    """The image blob version a document answers."""

    container: str
    name: str
    etag: str
    size: int | None
    last_modified: str | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class QuickSource:
    """What POST /api/classify classified: an uploaded body or a fetched URL."""

    size: int
    url: str | None = field(default=None, metadata=OMIT_IF_NONE)
    upload: bool | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class ModelInfo:
    """The model that classified: ``service`` (the published Custom Vision iteration) or ``onnx`` (its
    export, run in-process; ``projectId`` is null for a portal export whose current.json names none).
    ``endpoint`` (service mode): the host that answered, a Custom Vision resource or a self-hosted one."""

    project_id: str | None
    published_name: str
    iteration_id: str | None
    source: Literal["service", "onnx"] = "service"
    endpoint: str | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class Prediction:
    """``tagId`` is null only in onnx mode, for a model whose current.json gives no tag id for the tag."""

    tag_name: str
    tag_id: str | None
    probability: float


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    message: str
    retryable: bool


# Why an image went to review: no tag reached REVIEW_THRESHOLD, though together the tags hold at least half
# the probability (the model hesitates between tags), or they hold less (the image is like none of them).
ReviewReason = Literal["low_confidence", "unknown"]
UNKNOWN_BELOW = 0.5


def review_reason(predictions: list[Prediction], review_threshold: float) -> ReviewReason | None:
    """None when the top tag reaches ``review_threshold``; else why the image goes to review.

    ``unknown`` when the probabilities of all tags sum to less than one half. A Multiclass model without
    an open-set score (Custom Vision's) always sums to 1, so only a model that scales down the
    probabilities of images unlike its training images (localvision's, and its ONNX export) says
    ``unknown``, from the point where its known-ness falls below one half; a Multilabel model also says
    it when no tag is likely.
    """
    if predictions and max(p.probability for p in predictions) >= review_threshold:
        return None
    return "unknown" if sum(p.probability for p in predictions) < UNKNOWN_BELOW else "low_confidence"


@dataclass(frozen=True, kw_only=True)
class ResultDocument:
    """A classification: ``blob`` for stored results, ``source`` for the quick test. ``reviewReason``:
    why a stored result went to review (absent when it did not)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    status: Literal["ok"] = "ok"
    blob: BlobInfo | None = field(default=None, metadata=OMIT_IF_NONE)
    source: QuickSource | None = field(default=None, metadata=OMIT_IF_NONE)
    model: ModelInfo
    threshold: float
    tags: list[str]
    predictions: list[Prediction]
    classified_at: str
    review_reason: ReviewReason | None = field(default=None, metadata=OMIT_IF_NONE)
    __schema_extra__ = _ONE_OF_SOURCE

    @property
    def top_probability(self) -> float:
        return self.predictions[0].probability if self.predictions else 0.0


@dataclass(frozen=True, kw_only=True)
class ErrorDocument:
    """An image that could not be classified: what happened and what to do (shared.catalogue)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    status: Literal["error"] = "error"
    blob: BlobInfo | None = field(default=None, metadata=OMIT_IF_NONE)
    source: QuickSource | None = field(default=None, metadata=OMIT_IF_NONE)
    error: ErrorInfo
    classified_at: str
    __schema_extra__ = _ONE_OF_SOURCE


Document = ResultDocument | ErrorDocument


def predictions_of(result: Any) -> list[Prediction]:
    """The SDK's ImagePrediction.predictions, highest probability first."""
    rows = [
        Prediction(p.tag_name, p.tag_id, round(float(p.probability), 6)) for p in result.predictions or []
    ]
    return sorted(rows, key=lambda row: (-row.probability, row.tag_name))


def error_document(error: PipelineError, blob: BlobInfo | None = None, source: QuickSource | None = None):
    info = ErrorInfo(error.code, error.message, error.retryable)
    return ErrorDocument(error=info, classified_at=utc_now(), blob=blob, source=source)


def as_json(document: Document) -> dict[str, Any]:
    """The document as written and answered (camelCase, in the order of the fields)."""
    return encode(document)
