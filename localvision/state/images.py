"""Images: add a batch (per-image statuses), list and count with filters, delete, metadata, tagging."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from localvision import exceptions as errors
from localvision.limits import (
    MAX_METADATA_PAIRS,
    MAX_TAGS_PER_IMAGE,
    MAX_TRAINING_IMAGE_BYTES,
    ImageRejected,
    Tier,
    inspect_image,
)
from localvision.state.entities import Image, Project, new_id, utc_now
from localvision.state.registry import Registry, retry_on_conflict
from localvision.state.validation import check_batch_size, check_metadata
from localvision.state.views import ImageFile, ImageView, MetadataResult, UploadResult


@dataclass(frozen=True)
class Upload:
    """One image of an upload batch."""

    source: str  # what the result's sourceUrl shows
    data: bytes
    tag_ids: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ImageQuery:
    iteration_id: str | None = None
    tag_ids: tuple[str, ...] = ()
    tagging_status: str | None = None  # All | Tagged | Untagged
    order_by: str | None = None  # Newest | Oldest


def _select(project: Project, query: ImageQuery) -> list[Image]:
    images: Iterable[Image] = project.images.values()
    if query.iteration_id:
        members = {entry[0] for entry in project.iteration(query.iteration_id).training_set}
        images = [image for image in images if image.id in members]
    status = (query.tagging_status or "All").lower()
    if status == "tagged":
        images = [image for image in images if image.tags]
    elif status == "untagged":
        images = [image for image in images if not image.tags]
    elif status != "all":
        raise errors.TAGGING_STATUS.error(value=query.tagging_status)
    if query.tag_ids:
        wanted = {tag_id.lower() for tag_id in query.tag_ids}
        images = [image for image in images if wanted.intersection(image.tags)]
    order = (query.order_by or "Newest").lower()
    if order not in ("newest", "oldest"):
        raise errors.ORDER_BY.error(value=query.order_by)
    images = list(images)
    return images[::-1] if order == "newest" else images


def _negative_with_regular(project: Project, tag_ids: Iterable[str]) -> bool:
    """Whether the tags put the Negative tag beside another tag (the service refuses that on an image)."""
    types = {project.tags[tag_id].type for tag_id in tag_ids if tag_id in project.tags}
    return "Negative" in types and len(types) > 1


class ImageService:
    def __init__(self, registry: Registry, tier: Tier | None) -> None:
        self._registry = registry
        self._tier = tier

    @retry_on_conflict
    def add(
        self,
        project_id: str,
        uploads: Sequence[Upload],
        tag_ids: Sequence[str] = (),
        metadata: dict | None = None,
    ) -> tuple[list[UploadResult], bool]:
        """Add a batch of images; one result per image, and whether all of them were created."""
        check_batch_size(len(uploads))
        metadata = check_metadata(metadata or {})
        checked = []
        for upload in uploads:  # decoding checks run outside the lock
            try:
                checked.append((upload, inspect_image(upload.data, MAX_TRAINING_IMAGE_BYTES), None))
            except ImageRejected as rejected:
                checked.append((upload, None, rejected.status))
        results: list[UploadResult] = []
        with self._registry.lock:
            project = self._registry.project(project_id)
            by_hash = {image.sha256: image for image in project.images.values()}
            for upload, info, failure in checked:
                wanted = list(dict.fromkeys(tag_id.lower() for tag_id in (*tag_ids, *upload.tag_ids)))
                if failure is None and any(tag_id not in project.tags for tag_id in wanted):
                    failure = "ErrorInvalidTag"
                if failure is None and len(wanted) > MAX_TAGS_PER_IMAGE:
                    failure = "ErrorTagLimitExceed"
                if failure is None and _negative_with_regular(project, wanted):
                    failure = "ErrorNegativeAndRegularTagOnSameImage"
                if failure is None and self._tier and len(project.images) >= self._tier.max_images:
                    failure = "ErrorLimitExceed"
                if failure is not None:
                    results.append(UploadResult(upload.source, failure))
                    continue
                sha = hashlib.sha256(upload.data).hexdigest()
                if sha in by_hash:
                    results.append(UploadResult(upload.source, "OKDuplicate", by_hash[sha].view(project)))
                    continue
                now = utc_now()
                image = Image(
                    new_id(), now, info.width, info.height, sha, info.format, dict.fromkeys(wanted, now)
                )
                image.metadata = dict(metadata)
                self._registry.store.put_image(project.id, sha, upload.data)
                project.images[image.id] = image
                by_hash[sha] = image
                results.append(UploadResult(upload.source, "OK", image.view(project)))
            if any(result.status == "OK" for result in results):
                self._registry.save(project)
        return results, all(result.status == "OK" for result in results)

    def list(self, project_id: str, query: ImageQuery, take: int, skip: int) -> list[ImageView]:
        with self._registry.lock:
            project = self._registry.project(project_id)
            return [image.view(project) for image in _select(project, query)[skip : skip + take]]

    def count(self, project_id: str, query: ImageQuery) -> int:
        with self._registry.lock:
            return len(_select(self._registry.project(project_id), query))

    def by_ids(self, project_id: str, image_ids: Iterable[str]) -> list[ImageView]:
        with self._registry.lock:
            project = self._registry.project(project_id)
            found = [project.images[i.lower()] for i in image_ids if i.lower() in project.images]
            return [image.view(project) for image in found]

    def file(self, project_id: str, image_id: str) -> ImageFile:
        """Where an image's bytes are (for its download links)."""
        with self._registry.lock:
            image = self._registry.project(project_id).image(image_id)
            return ImageFile(project_id.lower(), image.id, image.sha256, image.format)

    @retry_on_conflict
    def delete(self, project_id: str, image_ids: Sequence[str], all_images: bool) -> None:
        registry = self._registry
        with registry.lock:
            project = registry.project(project_id)
            doomed = list(project.images) if all_images else [i.lower() for i in image_ids]
            removed = [project.images.pop(image_id) for image_id in doomed if image_id in project.images]
            if not removed:
                return
            kept = project.hashes_in_use()
            registry.save(project)
            for image in removed:
                if image.sha256 not in kept:
                    registry.store.delete_image(project.id, image.sha256)

    @retry_on_conflict
    def update_metadata(
        self, project_id: str, image_ids: Sequence[str], metadata: object
    ) -> tuple[list[MetadataResult], bool]:
        metadata = check_metadata(metadata)
        results = []
        with self._registry.lock:
            project = self._registry.project(project_id)
            for image_id in image_ids:
                image = project.images.get(image_id.lower())
                if image is None:
                    results.append(MetadataResult(image_id, "ErrorImageNotFound"))
                elif len({**image.metadata, **metadata}) > MAX_METADATA_PAIRS:
                    results.append(
                        MetadataResult(image_id, "ErrorLimitExceed", tuple(image.metadata.items()))
                    )
                else:
                    image.metadata.update(metadata)
                    results.append(MetadataResult(image.id, "OK", tuple(image.metadata.items())))
            self._registry.save(project)
        return results, all(result.status == "OK" for result in results)

    @retry_on_conflict
    def tag(self, project_id: str, pairs: Sequence[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
        """Add (image id, tag id) pairs: which were created, which existed, which went over the limit."""
        summary: dict[str, list[tuple[str, str]]] = {"created": [], "duplicated": [], "exceeded": []}
        with self._registry.lock:
            project = self._registry.project(project_id)
            after: dict[str, set[str]] = {}
            for image_id, tag_id in pairs:  # check everything first: a refused call changes nothing
                image, tag = project.image(image_id), project.tag(tag_id)
                after.setdefault(image.id, set(image.tags)).add(tag.id)
            for image_id, tag_ids in after.items():
                if _negative_with_regular(project, tag_ids):
                    raise errors.NEGATIVE_AND_REGULAR.error(image_id=image_id)
            for image_id, tag_id in pairs:
                image, tag = project.image(image_id), project.tag(tag_id)
                if tag.id in image.tags:
                    summary["duplicated"].append((image.id, tag.id))
                elif len(image.tags) >= MAX_TAGS_PER_IMAGE:
                    summary["exceeded"].append((image.id, tag.id))
                else:
                    image.tags[tag.id] = utc_now()
                    summary["created"].append((image.id, tag.id))
            self._registry.save(project)
        return summary

    @retry_on_conflict
    def untag(self, project_id: str, image_ids: Sequence[str], tag_ids: Sequence[str]) -> None:
        with self._registry.lock:
            project = self._registry.project(project_id)
            for image_id in image_ids:
                image = project.images.get(image_id.lower())
                for tag_id in tag_ids:
                    if image is not None:
                        image.tags.pop(tag_id.lower(), None)
            self._registry.save(project)
