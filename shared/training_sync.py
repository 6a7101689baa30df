"""Incremental upload of labelled training blobs (training/{tag}/{file}) to the Custom Vision project.

What was uploaded is recorded in a manifest, pipeline/sync/manifest.json: per blob name its ETag, the
Custom Vision image id, the tag and the upload status. A cycle lists the training container, uploads only
blobs that are not in the manifest or whose ETag changed (in batches of at most 64 images and 32 MB),
reads every per-image status (OK and OKDuplicate are success) and saves the manifest after each batch,
so a crash resumes where it stopped and the cost of a cycle grows with what is new, not with everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from azure.storage.blob import ContainerClient

from shared import imaging
from shared.customvision import CustomVision
from shared.errors import PermanentError
from shared.storage import ensure_container, read_json, write_json

log = logging.getLogger(__name__)
MANIFEST = "sync/manifest.json"
BATCH_IMAGES = 64
BATCH_BYTES = 32 * 1024 * 1024
MAX_FAILURES_LISTED = 20
SUCCESS = ("OK", "OKDuplicate")
# Upload statuses that another try cannot fix: remembered so the blob is not sent again until it changes.
PERMANENT_STATUSES = frozenset(
    {"ErrorImageFormat", "ErrorImageSize", "ErrorImageDimensions", "ErrorTagLimitExceed",
     "ErrorRegionLimitExceed", "ErrorNegativeAndRegularTagOnSameImage",
     "NotAnImage", "ImageTooSmall", "ImageTooLarge", "ImageAspectRatio"}
)  # fmt: skip


@dataclass(frozen=True)
class Pending:
    name: str
    tag: str
    etag: str
    size: int


@dataclass
class Plan:
    """What the training container holds compared with the manifest."""

    pending: list[Pending] = field(default_factory=list)
    listed: int = 0
    unchanged: int = 0
    ignored: int = 0  # blobs not inside a {tag}/ folder


class Manifest:
    def __init__(self, container: ContainerClient) -> None:
        self.container = container
        found = read_json(container, MANIFEST)
        self.data: dict[str, Any] = (
            found.data if found else {"projectId": None, "needsTraining": False, "images": {}}
        )
        self.etag = found.etag if found else None

    def for_project(self, project_id: str) -> None:
        """A manifest made for another project says nothing about this one: start it afresh."""
        if self.data.get("projectId") != project_id:
            self.data = {"projectId": project_id, "needsTraining": False, "images": {}}

    @property
    def images(self) -> dict[str, dict[str, Any]]:
        return self.data["images"]

    def save(self) -> None:
        ensure_container(self.container)
        self.etag = write_json(self.container, MANIFEST, self.data, if_match=self.etag)


def plan(training: ContainerClient, manifest: Manifest) -> Plan:
    result = Plan()
    for blob in training.list_blobs():
        result.listed += 1
        tag, _, rest = blob.name.partition("/")
        if not tag or not rest:
            result.ignored += 1
            continue
        known = manifest.images.get(blob.name)
        if known and known.get("etag") == blob.etag:
            result.unchanged += 1
            continue
        result.pending.append(Pending(blob.name, tag, blob.etag, blob.size))
    return result


def batches(pending: list[Pending]) -> list[list[Pending]]:
    out: list[list[Pending]] = []
    current: list[Pending] = []
    size = 0
    for item in pending:
        if current and (len(current) >= BATCH_IMAGES or size + item.size > BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        out.append(current)
    return out


class Syncer:
    def __init__(
        self, cv: CustomVision, project_id: str, training: ContainerClient, manifest: Manifest
    ) -> None:
        self.cv = cv
        self.project_id = project_id
        self.training = training
        self.manifest = manifest
        self._tags: dict[str, str] | None = None

    def tag_id(self, name: str, created: list[str]) -> str:
        if self._tags is None:
            tags = self.cv.training(lambda t: t.get_tags(self.project_id), "list tags")
            self._tags = {t.name: t.id for t in tags}
        if name not in self._tags:
            try:
                tag = self.cv.training(lambda t: t.create_tag(self.project_id, name), f"create tag {name}")
                created.append(name)
                self._tags[name] = tag.id
            except PermanentError as error:
                if error.code != "BadRequestTagNameNotUnique":
                    raise
                self._tags = None  # created meanwhile by someone else: read them again
                return self.tag_id(name, created)
        return self._tags[name]

    def upload(
        self, batch: list[Pending], counts: dict[str, Any], record_failure: Callable[[str, str], None]
    ) -> None:
        """Upload one batch, update ``counts`` and the manifest, and save the manifest."""
        entries: list[ImageFileCreateEntry] = []
        sent: list[Pending] = []
        for item in batch:
            data = self.training.download_blob(item.name).readall()
            try:
                image = imaging.normalise(data, imaging.TRAINING_MAX_BYTES)
            except PermanentError as error:
                self._failed(item, error.code, counts, record_failure)
                continue
            tag_id = self.tag_id(item.tag, counts["tagsCreated"])
            entries.append(ImageFileCreateEntry(name=item.name, contents=image.data, tag_ids=[tag_id]))
            sent.append(item)
        if entries:
            summary = self.cv.training(
                lambda t: t.create_images_from_files(self.project_id, ImageFileCreateBatch(images=entries)),
                f"upload {len(entries)} images",
            )
            by_name = {(r.source_url or "").strip('"'): r for r in summary.images or []}
            for index, item in enumerate(sent):
                result = by_name.get(item.name) or (
                    summary.images[index] if index < len(summary.images) else None
                )
                status = result.status if result else "ErrorUnknown"
                if status in SUCCESS:
                    self._succeeded(item, status, result.image.id if result.image else None, counts)
                else:
                    self._failed(item, status, counts, record_failure)
        self.manifest.save()

    def _succeeded(self, item: Pending, status: str, image_id: str | None, counts: dict[str, Any]) -> None:
        old = self.manifest.images.get(item.name)
        old_id = old.get("imageId") if old else None
        if old_id and old_id != image_id:  # the blob changed: its old image no longer belongs in the project
            self.cv.training(
                lambda t: t.delete_images(self.project_id, image_ids=[old_id]), "delete replaced image"
            )
        self.manifest.images[item.name] = {
            "etag": item.etag,
            "imageId": image_id,
            "tag": item.tag,
            "status": status,
        }
        counts["uploaded" if status == "OK" else "duplicates"] += 1
        self.manifest.data["needsTraining"] = True

    def _failed(
        self, item: Pending, status: str, counts: dict[str, Any], record: Callable[[str, str], None]
    ) -> None:
        counts["failed"] += 1
        record(item.name, status)
        if status in PERMANENT_STATUSES:
            self.manifest.images[item.name] = {
                "etag": item.etag,
                "imageId": None,
                "tag": item.tag,
                "status": status,
            }
        log.warning("training blob %s not uploaded: %s", item.name, status)
