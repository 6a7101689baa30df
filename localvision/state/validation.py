"""Checks on what clients send; each failure is a catalogued error that says what to send."""

from __future__ import annotations

import re

from localvision import exceptions as errors
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
        raise errors.EMPTY_BATCH.error()
    if count > MAX_IMAGES_PER_BATCH:
        raise errors.BATCH_TOO_LARGE.error(count=count, limit=MAX_IMAGES_PER_BATCH)


def check_project_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 256:
        raise errors.PROJECT_NAME.error()
    return name


def check_classification_type(value: str) -> str:
    for known in CLASSIFICATION_TYPES:
        if value.lower() == known.lower():
            return known
    raise errors.UNKNOWN_CLASSIFICATION.error(value=value)


def check_training_type(value: str) -> str:
    for known in TRAINING_TYPES:
        if value.lower() == known.lower():
            return known
    raise errors.TRAINING_TYPE.error(value=value)


def check_publish(publish_name: str | None, prediction_id: str | None) -> str:
    publish_name = (publish_name or "").strip()
    if not publish_name or len(publish_name) > 256 or any(ord(c) < 32 for c in publish_name):
        raise errors.PUBLISH_NAME.error()
    if not prediction_id or not PREDICTION_RESOURCE_ID.match(prediction_id):
        raise errors.PUBLISH_TARGET.error()
    return publish_name


def check_metadata(metadata: object) -> dict[str, str]:
    if not isinstance(metadata, dict):
        raise errors.METADATA_SHAPE.error()
    if len(metadata) > MAX_METADATA_PAIRS:
        raise errors.METADATA_PAIRS.error(limit=MAX_METADATA_PAIRS)
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise errors.METADATA_KEY.error(limit=MAX_METADATA_KEY)
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise errors.METADATA_VALUE.error(limit=MAX_METADATA_VALUE)
    return dict(metadata)
