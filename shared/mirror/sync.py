"""The mirror: make the Custom Vision project's training set equal to the training container.

One listing of the container is compared with the manifest (shared.mirror.plan); Custom Vision is
called only for what changed, in this order: delete the images of gone or replaced blobs
(``delete_images``, at most 256 ids a call), retag moved images in place (``delete_image_tags`` /
``create_image_tags``, same image id, no upload), upload new content (batches of at most 64 images and
32 MB). The manifest is saved after each call batch, so a crash or a continuation in a new invocation
resumes where it stopped. Images the pipeline did not upload are never touched.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageTagCreateEntry,
)
from azure.storage.blob import ContainerClient

from shared import imaging
from shared.customvision.clients import CustomVision
from shared.errors import PermanentError
from shared.mirror.manifest import REBUILDING as REBUILDING_FIELD
from shared.mirror.manifest import Manifest
from shared.mirror.plan import (
    REPLACED,
    Delete,
    Entry,
    Listed,
    Plan,
    Retag,
    Upload,
    diff,
    has_changes,
    md5_of,
)
from shared.mirror.report import SyncReport
from shared.mirror.summary import write_summary
from shared.mirror.tags import TagResolver
from shared.runs.record import SyncCounts

log = logging.getLogger(__name__)
BATCH_IMAGES = 64
BATCH_BYTES = 32 * 1024 * 1024
DELETE_IDS = 256  # delete_images: imageIds
RETAG_IMAGES = 64  # delete_image_tags: imageIds (and create_image_tags entries per call)
SUCCESS = ("OK", "OKDuplicate")
# Failures another try cannot fix: remembered, so the blob is not sent again until it changes.
PERMANENT = frozenset(
    {"ErrorImageFormat", "ErrorImageSize", "ErrorImageDimensions", "ErrorTagLimitExceed",
     "ErrorRegionLimitExceed", "ErrorNegativeAndRegularTagOnSameImage",
     "NotAnImage", "ImageTooSmall", "ImageAspectRatio", "ImageTooLarge", "InvalidTagName"}
)  # fmt: skip


def list_training(training: ContainerClient) -> list[Listed]:
    """The one listing of a cycle (raises ResourceNotFoundError when the container does not exist)."""
    return [
        Listed(b.name, b.etag, b.size, md5_of(b.content_settings.content_md5 if b.content_settings else None))
        for b in training.list_blobs()
    ]


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def upload_batches(uploads: list[Upload]) -> list[list[Upload]]:
    out: list[list[Upload]] = []
    current: list[Upload] = []
    size = 0
    for item in uploads:
        if current and (len(current) >= BATCH_IMAGES or size + item.blob.size > BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += item.blob.size
    if current:
        out.append(current)
    return out


@dataclass(frozen=True)
class Sources:
    """Where the mirror reads and writes: the training container and the pipeline's state container."""

    training: ContainerClient
    pipeline: ContainerClient


class Mirror:
    """The one entry point: ``run(budget)`` applies at most ``budget`` call batches and says what it did."""

    def __init__(self, cv: CustomVision, project_id: str, sources: Sources, negative_folder: str) -> None:
        self.cv = cv
        self.project_id = project_id
        self.training = sources.training
        self.pipeline = sources.pipeline
        self.negative_folder = negative_folder
        self.manifest = Manifest(sources.pipeline)
        self.manifest.for_project(project_id)
        self.tags = TagResolver(cv, project_id)

    @property
    def needs_training(self) -> bool:
        """Something changed in the project since the last completed training."""
        return bool(self.manifest.data.get("needsTraining"))

    @staticmethod
    def pending(training: ContainerClient, pipeline: ContainerClient, negative_folder: str) -> bool:
        """A cycle has work: blobs new, changed or gone since the last sync, or synced but not trained."""
        manifest = Manifest(pipeline, repair=False)  # an unreadable one reads as empty: all blobs are new
        if manifest.data.get("needsTraining"):
            return True
        return has_changes(list_training(training), manifest.entries(), negative_folder)

    def run(
        self,
        budget: int,
        so_far: SyncCounts | None = None,
        progress: Callable[[SyncReport], None] | None = None,
    ) -> SyncReport:
        listing = list_training(self.training)
        plan = diff(listing, self.manifest.entries(), self.negative_folder, self._hash)
        report = SyncReport(listed=plan.listed, unchanged=plan.unchanged, ignored=plan.ignored)
        for blob in plan.duplicate_blobs:
            report.duplicate(blob)
        for blob, code in plan.failures:
            report.fail(blob, code)
        if self.manifest.rebuilt is not None:
            why, kept = self.manifest.rebuilt
            report.warn("ManifestRebuilt", why=why, kept=kept)
        if plan.writes or self.manifest.rebuilt is not None:
            self.manifest.put_all(plan.writes.items())
            self.manifest.save()
            self.manifest.rebuilt = None  # reported once

        def merged() -> SyncReport:
            report.tags_created = list(self.tags.created)
            return report.continued(so_far) if so_far else report

        steps = self._steps(plan, report)
        for index, step in enumerate(steps):
            if index == budget:
                log.info(
                    "sync continues in a new invocation: %d of %d call batches left",
                    len(steps) - index,
                    len(steps),
                )
                return merged()
            step()
            self.manifest.save()
            if progress:
                progress(merged())
        report.complete = True
        write_summary(self.pipeline, listing)
        if self.manifest.rebuilding:  # every blob has been through the mirror once: rebuilt
            self.manifest.data.pop(REBUILDING_FIELD)
            self.manifest.save()
        return merged()

    def _steps(self, plan: Plan, report: SyncReport) -> list[Callable[[], None]]:
        steps: list[Callable[[], None]] = []
        for chunk in chunks(plan.deletes, DELETE_IDS):
            steps.append(lambda c=chunk: self._delete(c, report))
        for chunk in chunks(plan.retags, RETAG_IMAGES):
            steps.append(lambda c=chunk: self._retag(c, report))
        for batch in upload_batches(plan.uploads):
            steps.append(lambda b=batch: self._upload(b, report))
        return steps

    def _hash(self, blob: Listed) -> str:
        """SHA-256 of a blob the store set no Content-MD5 for (downloads it: only new or changed blobs)."""
        return "sha256:" + hashlib.sha256(self.training.download_blob(blob.name).readall()).hexdigest()

    def _changed(self) -> None:
        self.manifest.data["needsTraining"] = True

    # --- deletes --------------------------------------------------------------------------------------

    def _delete(self, chunk: list[Delete], report: SyncReport) -> None:
        ids = [item.image_id for item in chunk]
        self.cv.training(
            lambda t: t.delete_images(self.project_id, image_ids=ids), f"delete {len(ids)} images"
        )
        self._changed()
        for item in chunk:
            entry = self.manifest.entry(item.name)
            if entry is None or entry.image_id != item.image_id:
                continue  # the name was rewritten by this plan already (e.g. now a duplicate)
            if item.replaced:  # the new content is uploaded next: remember that this name was replaced
                self.manifest.put(item.name, Entry(entry.etag, entry.hash, None, entry.tag, (), REPLACED))
            else:
                self.manifest.put(item.name, None)
                report.deleted += 1

    # --- retags ---------------------------------------------------------------------------------------

    def _retag(self, chunk: list[Retag], report: SyncReport) -> None:
        wanted: list[tuple[Retag, str]] = []
        for item in chunk:
            tag_id = self.tags.id_of(item.folder)
            if tag_id is None:
                report.fail(item.blob.name, self.tags.failure(item.folder))
                continue
            wanted.append((item, tag_id))
        if not wanted:
            return
        missing = self._missing_images([item.image_id for item, _ in wanted])
        for item, _ in wanted:
            if item.image_id in missing:  # deleted in the portal meanwhile: upload the blob again
                self._release_source(item)
                self._upload([Upload(item.blob, item.folder, item.hash, replaced=False)], report)
        wanted = [(item, tag_id) for item, tag_id in wanted if item.image_id not in missing]
        by_old: dict[tuple[str, ...], list[str]] = {}
        for item, tag_id in wanted:
            old = tuple(t for t in (item.old_tag_ids or self.tags.ids_of_key(item.old_tag)) if t != tag_id)
            if old:
                by_old.setdefault(old, []).append(item.image_id)
        for old_ids, image_ids in by_old.items():
            self.cv.training(
                lambda t, i=image_ids, o=old_ids: t.delete_image_tags(self.project_id, i, list(o)),
                "untag images",
            )
        entries = [ImageTagCreateEntry(image_id=item.image_id, tag_id=tag_id) for item, tag_id in wanted]
        summary = self.cv.training(lambda t: t.create_image_tags(self.project_id, tags=entries), "tag images")
        exceeded = {e.image_id for e in (summary.exceeded or [])} if summary else set()
        self._changed()
        for item, tag_id in wanted:
            if item.image_id in exceeded:
                report.fail(item.blob.name, "ErrorTagLimitExceed")
                continue
            self._release_source(item)
            self.manifest.put(
                item.blob.name,
                Entry(item.blob.etag, item.hash, item.image_id, item.folder.key, (tag_id,), "OK", owned=True),
            )
            report.retagged += 1

    def _release_source(self, item: Retag) -> None:
        """The image left the blob it was recorded under: that entry goes (unless rewritten meanwhile)."""
        entry = self.manifest.entry(item.source)
        if item.source != item.blob.name and entry is not None and entry.image_id == item.image_id:
            self.manifest.put(item.source, None)

    def _missing_images(self, image_ids: list[str]) -> set[str]:
        found = self.cv.training(
            lambda t: t.get_images_by_ids(self.project_id, image_ids=image_ids), "look up moved images"
        )
        return set(image_ids) - {image.id for image in found or []}

    # --- uploads --------------------------------------------------------------------------------------

    def _upload(self, batch: list[Upload], report: SyncReport) -> None:
        images: list[tuple[Upload, bytes]] = []
        for item in batch:  # checked before any tag is needed: a folder of non-images creates no tag
            data = self.training.download_blob(item.blob.name).readall()
            try:
                images.append((item, imaging.normalise(data, imaging.TRAINING_MAX_BYTES).data))
            except PermanentError as error:
                self._failed(item, error.code, report)
        entries: list[ImageFileCreateEntry] = []
        sent: list[tuple[Upload, str]] = []
        for item, image in images:
            tag_id = self.tags.id_of(item.folder)
            if tag_id is None:
                self._failed(item, self.tags.failure(item.folder), report)
                continue
            entries.append(ImageFileCreateEntry(name=item.blob.name, contents=image, tag_ids=[tag_id]))
            sent.append((item, tag_id))
        if not entries:
            return
        summary = self.cv.training(
            lambda t: t.create_images_from_files(self.project_id, ImageFileCreateBatch(images=entries)),
            f"upload {len(entries)} images",
        )
        results = summary.images or []
        by_name = {(r.source_url or "").strip('"'): r for r in results}
        for index, (item, tag_id) in enumerate(sent):
            result = by_name.get(item.blob.name) or (results[index] if index < len(results) else None)
            status = result.status if result else "ErrorUnknown"
            image_id = result.image.id if result and result.image else None
            if status not in SUCCESS or image_id is None:
                self._failed(item, status, report)
                continue
            owned = status == "OK"
            # after an unreadable manifest: a duplicate carrying exactly the blob's tag was ours before
            recovered = not owned and self.manifest.rebuilding and _tag_ids(result) == {tag_id}
            if recovered:
                owned, status = True, "OK"
            self.manifest.put(
                item.blob.name,
                Entry(
                    item.blob.etag,
                    item.hash,
                    image_id,
                    item.folder.key,
                    (tag_id,) if owned else (),
                    status,
                    owned,
                ),
            )
            if recovered:
                report.recovered += 1  # the project already has it as it should: nothing changed
            elif not owned:
                report.duplicate(item.blob.name)  # the same bytes are in the project already
            else:
                report.replaced += item.replaced
                report.uploaded += not item.replaced
                self._changed()
        self._discard_unused_tags(sent, results)

    def _discard_unused_tags(self, sent: list[tuple[Upload, str]], results: list) -> None:
        """Tags created for this batch whose images the service all refused go again."""
        taken = {
            tag for result in results if result.status == "OK" and result.image for tag in _tag_ids(result)
        }
        for item, tag_id in sent:
            if tag_id in self.tags.fresh and tag_id not in taken:
                self.tags.discard(item.folder, tag_id)

    def _failed(self, item: Upload, code: str, report: SyncReport) -> None:
        report.fail(item.blob.name, code)
        log.warning("training blob %s not uploaded: %s", item.blob.name, code)
        if code in PERMANENT:
            self.manifest.put(
                item.blob.name, Entry(item.blob.etag, item.hash, None, item.folder.key, (), code)
            )
        elif (entry := self.manifest.entry(item.blob.name)) is not None and entry.status != REPLACED:
            self.manifest.put(item.blob.name, None)  # tried again next cycle


def _tag_ids(result) -> set[str]:
    """The tag ids of the image an upload result names (a duplicate's are the existing image's)."""
    return {tag.tag_id for tag in (result.image.tags or [])} if result.image else set()


__all__ = ["Manifest", "Mirror", "Sources", "SyncReport"]
