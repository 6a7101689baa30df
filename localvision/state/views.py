"""Snapshots: frozen copies of the state that reads return, safe to shape into replies without a lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TagView:
    id: str
    name: str
    description: str
    type: str
    image_count: int


@dataclass(frozen=True)
class ProjectView:
    id: str
    name: str
    description: str
    domain_id: str
    classification_type: str
    created: str
    last_modified: str
    target_export_platforms: tuple[str, ...]
    image_processing_settings: Any
    status: str


@dataclass(frozen=True)
class ImageTagView:
    tag_id: str
    tag_name: str
    created: str


@dataclass(frozen=True)
class ImageView:
    id: str
    project_id: str
    created: str
    width: int
    height: int
    sha256: str
    format: str  # jpg | png | bmp | gif
    tags: tuple[ImageTagView, ...]
    metadata: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class IterationView:
    id: str
    name: str
    status: str
    created: str
    last_modified: str
    trained_at: str | None
    project_id: str
    domain_id: str
    classification_type: str
    training_type: str
    reserved_budget_in_hours: int
    training_time_in_minutes: int
    publish_name: str
    original_publish_resource_id: str
    training_error_details: str | None
    tags: tuple[TagView, ...]  # as trained, in the model's output order


@dataclass(frozen=True)
class UploadResult:
    source: str
    status: str
    image: ImageView | None = None


@dataclass(frozen=True)
class MetadataResult:
    image_id: str
    status: str
    metadata: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class TagPrediction:
    probability: float
    tag: TagView


@dataclass(frozen=True)
class PredictionResult:
    id: str
    project_id: str
    iteration_id: str
    created: str
    predictions: tuple[TagPrediction, ...]


@dataclass(frozen=True)
class ImagePerformance:
    """A training image of an iteration with its out-of-fold prediction (most probable tag first)."""

    image: ImageView
    predictions: tuple[TagPrediction, ...]


@dataclass(frozen=True)
class ImageFile:
    """Where an image's bytes are, for the signed download links."""

    project_id: str
    image_id: str
    sha256: str
    format: str


@dataclass(frozen=True)
class ExportView:
    project_id: str
    iteration_id: str
    platform: str
    flavor: str | None
    status: str  # Exporting | Done | Failed
    newer_version_available: bool
    file_name: str | None  # the zip's name once Done
