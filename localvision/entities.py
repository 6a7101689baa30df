"""The state's records: projects, tags, images and iterations, and how they are stored as JSON."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> str:
    """The service's datetime form: ISO 8601, UTC, milliseconds, ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Tag:
    id: str
    name: str
    description: str
    type: str
    created: str


@dataclass
class Image:
    id: str
    created: str
    width: int
    height: int
    sha256: str
    format: str
    tags: dict[str, str] = field(default_factory=dict)  # tag id -> when it was tagged
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Iteration:
    id: str
    name: str
    number: int
    status: str  # Training | Completed | Failed
    created: str
    last_modified: str
    project_id: str
    domain_id: str
    classification_type: str
    training_type: str
    reserved_budget_in_hours: int
    trained_at: str | None = None
    training_time_in_minutes: int = 0
    publish_name: str = ""
    original_publish_resource_id: str = ""
    training_error_details: str | None = None
    fingerprint: str = ""
    # The snapshot it trains on: its tags (in the model's output order) and (image id, sha256, tag indices).
    tags: list[dict[str, Any]] = field(default_factory=list)
    training_set: list[tuple[str, str, list[int]]] = field(default_factory=list)


@dataclass
class Project:
    id: str
    name: str
    description: str
    domain_id: str
    classification_type: str
    created: str
    last_modified: str
    target_export_platforms: list[str] = field(default_factory=list)
    image_processing_settings: dict[str, Any] | None = None
    status: str = "Succeeded"
    iteration_counter: int = 0
    tags: dict[str, Tag] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)  # in upload order (oldest first)
    iterations: dict[str, Iteration] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Project:
        data = dict(document)
        tags = {key: Tag(**value) for key, value in data.pop("tags").items()}
        images = {key: Image(**value) for key, value in data.pop("images").items()}
        iterations = {}
        for key, value in data.pop("iterations").items():
            value = dict(value)
            value["training_set"] = [tuple(entry) for entry in value.get("training_set", [])]
            iterations[key] = Iteration(**value)
        return cls(**data, tags=tags, images=images, iterations=iterations)

    def tag_image_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.tags, 0)
        for image in self.images.values():
            for tag_id in image.tags:
                counts[tag_id] = counts.get(tag_id, 0) + 1
        return counts
