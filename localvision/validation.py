"""Checks on what clients send; each failure carries the service's error code and says what to send."""

from __future__ import annotations

import re

from localvision.exceptions import BadRequest
from localvision.limits import MAX_IMAGES_PER_BATCH, MAX_METADATA_KEY, MAX_METADATA_PAIRS, MAX_METADATA_VALUE

CLASSIFICATION_TYPES = ("Multiclass", "Multilabel")
TAG_TYPES = ("Regular", "Negative", "GeneralProduct")
TRAINING_TYPES = ("Regular", "Advanced")
PREDICTION_RESOURCE_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.CognitiveServices/accounts/[^/]+$",
    re.IGNORECASE,
)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_batch_size(count: int) -> None:
    if count == 0:
        raise BadRequest("BadRequestImageBatch", "The batch has no images")
    if count > MAX_IMAGES_PER_BATCH:
        raise BadRequest(
            "BadRequestExceededBatchSize",
            f"The batch has {count} images; send at most {MAX_IMAGES_PER_BATCH} per call",
        )


def check_project_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 256:
        raise BadRequest("BadRequestProjectName", "A project name must have 1 to 256 characters")
    return name


def check_classification_type(value: str) -> str:
    for known in CLASSIFICATION_TYPES:
        if value.lower() == known.lower():
            return known
    raise BadRequest(
        "BadRequestProjectUnknownClassification",
        f"classificationType '{value}' is not Multiclass or Multilabel",
    )


def check_training_type(value: str) -> str:
    for known in TRAINING_TYPES:
        if value.lower() == known.lower():
            return known
    raise BadRequest("BadRequest", f"trainingType '{value}' is not Regular or Advanced")


def check_metadata(metadata: dict) -> dict[str, str]:
    if not isinstance(metadata, dict):
        raise BadRequest("BadRequest", "metadata must be a JSON object of string keys and values")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise BadRequest(
            "BadRequestImageMetadataKey", f"At most {MAX_METADATA_PAIRS} metadata pairs per image"
        )
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise BadRequest(
                "BadRequestImageMetadataKey", f"Metadata keys must have 1 to {MAX_METADATA_KEY} characters"
            )
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise BadRequest(
                "BadRequestImageMetadataValue",
                f"Metadata values must be strings of at most {MAX_METADATA_VALUE}",
            )
    return dict(metadata)
