"""The live records (project, tag, image, iteration), their rules, and their stored JSON form.

Only the state services touch these, under the registry's lock; everything outside gets a snapshot
(``localvision.state.views``) from ``view()``.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from localvision import exceptions as errors
from localvision.limits import MIN_IMAGES_PER_TAG
from localvision.state.validation import TAG_TYPES
from localvision.state.views import (
    ExportView,
    ImageTagView,
    ImageView,
    IterationView,
    ProjectView,
    TagView,
)


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

    def view(self, image_count: int) -> TagView:
        return TagView(self.id, self.name, self.description or "", self.type, image_count)


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

    def view(self, project: Project) -> ImageView:
        tags = tuple(
            ImageTagView(tag_id, project.tags[tag_id].name, created)
            for tag_id, created in self.tags.items()
            if tag_id in project.tags
        )
        return ImageView(
            self.id, project.id, self.created, self.width, self.height, self.sha256, self.format, tags,
            tuple(self.metadata.items()),
        )  # fmt: skip


@dataclass
class Export:
    """One export of an iteration: one per platform + flavor, its zip beside the iteration's files."""

    platform: str
    flavor: str | None
    status: str  # Exporting | Done | Failed
    created: str
    version: str = ""  # the exporter's version that wrote the zip (newerVersionAvailable compares it)
    error: str | None = None

    @property
    def file_name(self) -> str:
        return f"{self.platform}-{self.flavor}.zip" if self.flavor else f"{self.platform}.zip"

    def view(self, project_id: str, iteration_id: str, current_version: str) -> ExportView:
        newer = self.status == "Done" and self.version != current_version
        file_name = self.file_name if self.status == "Done" else None
        return ExportView(project_id, iteration_id, self.platform, self.flavor, self.status, newer, file_name)


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
    exports: list[Export] = field(default_factory=list)

    def export(self, platform: str, flavor: str | None) -> Export | None:
        return next((e for e in self.exports if e.platform == platform and e.flavor == flavor), None)

    def view(self) -> IterationView:
        tags = tuple(
            TagView(
                t["id"], t["name"], t.get("description", ""), t.get("type", "Regular"), t.get("imageCount", 0)
            )
            for t in self.tags
        )
        return IterationView(
            self.id, self.name, self.status, self.created, self.last_modified, self.trained_at,
            self.project_id, self.domain_id, self.classification_type, self.training_type,
            self.reserved_budget_in_hours, self.training_time_in_minutes, self.publish_name,
            self.original_publish_resource_id, self.training_error_details, tags,
        )  # fmt: skip

    def finish(self, error: str | None, seconds: float) -> None:
        now = utc_now()
        self.status = "Failed" if error else "Completed"
        self.training_error_details = error
        self.last_modified = now
        if not error:
            self.trained_at = now
            self.training_time_in_minutes = max(1, math.ceil(seconds / 60))

    def publish(self, name: str, resource_id: str) -> None:
        if self.status != "Completed":
            raise errors.NOT_TRAINED.error(status=self.status)
        self.publish_name, self.original_publish_resource_id = name, resource_id
        self.last_modified = utc_now()

    def unpublish(self) -> None:
        self.publish_name, self.original_publish_resource_id = "", ""
        self.last_modified = utc_now()


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

    # ----- stored form -----

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
            value["exports"] = [Export(**entry) for entry in value.get("exports", [])]
            iterations[key] = Iteration(**value)
        return cls(**data, tags=tags, images=images, iterations=iterations)

    def view(self) -> ProjectView:
        return ProjectView(
            self.id, self.name, self.description, self.domain_id, self.classification_type,
            self.created, self.last_modified, tuple(self.target_export_platforms),
            self.image_processing_settings, self.status,
        )  # fmt: skip

    # ----- lookups -----

    def tag(self, tag_id: str) -> Tag:
        tag = self.tags.get(tag_id.lower())
        if tag is None:
            raise errors.TAG_NOT_FOUND.error()
        return tag

    def image(self, image_id: str) -> Image:
        image = self.images.get(image_id.lower())
        if image is None:
            raise errors.IMAGE_NOT_FOUND.error(image_id=image_id)
        return image

    def iteration(self, iteration_id: str) -> Iteration:
        iteration = self.iterations.get(iteration_id.lower())
        if iteration is None:
            raise errors.ITERATION_NOT_FOUND.error()
        return iteration

    def tag_image_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.tags, 0)
        for image in self.images.values():
            for tag_id in image.tags:
                counts[tag_id] = counts.get(tag_id, 0) + 1
        return counts

    def published(self, publish_name: str) -> Iteration | None:
        for iteration in self.iterations.values():
            if iteration.publish_name and iteration.publish_name == publish_name:
                return iteration
        return None

    def latest_completed(self) -> Iteration | None:
        done = [iteration for iteration in self.iterations.values() if iteration.status == "Completed"]
        return max(done, key=lambda iteration: iteration.number, default=None)

    def is_training(self) -> bool:
        return any(iteration.status == "Training" for iteration in self.iterations.values())

    def hashes_in_use(self) -> set[str]:
        """Image hashes still needed: the project's images and those of iterations in training."""
        kept = {image.sha256 for image in self.images.values()}
        for iteration in self.iterations.values():
            if iteration.status == "Training":
                kept.update(entry[1] for entry in iteration.training_set)
        return kept

    # ----- rules -----

    def check_tag_name(self, name: str | None, own_id: str | None) -> str:
        name = (name or "").strip()
        if not name or len(name) > 256:
            raise errors.TAG_NAME.error()
        for tag in self.tags.values():
            if tag.id != own_id and tag.name.lower() == name.lower():
                raise errors.TAG_NAME_NOT_UNIQUE.error(name=name)
        return name

    def check_tag_type(self, tag_type: str, own_id: str | None) -> str:
        known = next((known for known in TAG_TYPES if tag_type.lower() == known.lower()), None)
        if known is None:
            raise errors.TAG_TYPE.error(value=tag_type, known=", ".join(TAG_TYPES))
        if known != "Regular":
            for tag in self.tags.values():
                if tag.id != own_id and tag.type == known:
                    spec = (
                        errors.MULTIPLE_NEGATIVE if known == "Negative" else errors.MULTIPLE_GENERAL_PRODUCT
                    )
                    raise spec.error()
        return known

    def training_set(
        self, selected_tags: Sequence[str] | None
    ) -> tuple[list[dict], list[tuple[str, str, list[int]]], str]:
        """The tags with enough images (model output order), each image's tag indices, and a fingerprint."""
        counts = self.tag_image_counts()
        candidates = list(self.tags.values())
        if selected_tags:
            wanted = {tag_id.lower() for tag_id in selected_tags}
            unknown = wanted - set(self.tags)
            if unknown:
                raise errors.UNKNOWN_SELECTED_TAGS.error(ids=", ".join(sorted(unknown)))
            candidates = [tag for tag in candidates if tag.id in wanted]
        tags = [tag for tag in candidates if counts.get(tag.id, 0) >= MIN_IMAGES_PER_TAG]
        if len(tags) < 2:
            summary = ", ".join(f"{tag.name}={counts.get(tag.id, 0)}" for tag in candidates)
            raise errors.NOT_ENOUGH_IMAGES.error(minimum=MIN_IMAGES_PER_TAG, summary=summary or "no tags")
        index = {tag.id: position for position, tag in enumerate(tags)}
        training_set = []
        for image in self.images.values():
            labels = sorted(index[tag_id] for tag_id in image.tags if tag_id in index)
            if not labels:
                continue
            if self.classification_type == "Multiclass" and len(labels) > 1:
                raise errors.MULTICLASS_TWO_TAGS.error(image_id=image.id, count=len(labels))
            training_set.append((image.id, image.sha256, labels))
        snapshot = [
            {
                "id": t.id,
                "name": t.name,
                "description": t.description,
                "type": t.type,
                "imageCount": counts[t.id],
            }
            for t in tags
        ]
        digest = hashlib.sha256(self.classification_type.encode())
        for tag in snapshot:
            digest.update(f"|tag:{tag['id']}".encode())
        for _, sha, labels in sorted(training_set, key=lambda entry: entry[1]):
            digest.update(f"|{sha}:{','.join(map(str, labels))}".encode())
        return snapshot, training_set, digest.hexdigest()
