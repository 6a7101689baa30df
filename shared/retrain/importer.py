"""Import (data out): copy the configured project's tagged images into the training container.

The service has no "export my images" call; images come out through ``get_tagged_images`` (pages of
``take``/``skip``, oldest first so that images added meanwhile land after the pages already read) and
each image's ``originalImageUri``, a signed link that downloads without a key. Each image becomes
``{tag}/{imageId}.{ext}`` (the Negative tag's images go to the NEGATIVE_FOLDER folder), written
create-only, and is recorded in the sync manifest as already uploaded and owned, so the next retrain's
mirror sees it as unchanged (uploads nothing) and from then on treats it like any image it uploaded.

Each tagged image ends as exactly one of: copied, already present (a manifest entry already maps a blob
to it, or a blob of that name exists), failed (with a catalogue code). An image with several tags fails
with ``ImportMultipleTags``: a folder stands for one tag, and the mirror would take the other tags'
meaning away. Untagged images are counted and left. The work is bounded per invocation
(PAGES_PER_INVOCATION pages); the run record keeps the counts and ``tagged`` is the paging position, so a
continued import goes on from there without counting twice.
"""

from __future__ import annotations

import hashlib
import io
import logging
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContentSettings
from PIL import Image, UnidentifiedImageError

from shared import catalogue
from shared.customvision import links
from shared.mirror.manifest import Manifest
from shared.mirror.plan import MAX_TAG_NAME, md5_of, tag_key
from shared.retrain.context import StepContext
from shared.runs.record import ImportCounts, ImportFailure, Status, Step
from shared.runs.store import Run
from shared.storage import ensure_container

log = logging.getLogger(__name__)
PAGE_SIZE = 64  # get_tagged_images ``take`` (the service allows at most 256)
PAGES_PER_INVOCATION = 4
MAX_IMAGE_BYTES = 16 * 1024 * 1024  # the service keeps training images of at most 6 MB
DOWNLOAD_TIMEOUT_SECONDS = 60.0
MAX_FAILURES_LISTED = 20
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "BMP": "bmp", "WEBP": "webp",
              "TIFF": "tif"}  # fmt: skip
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "bmp": "image/bmp",
                 "webp": "image/webp", "tif": "image/tiff"}  # fmt: skip


class ImageNotCopied(Exception):
    """One image cannot be copied: ``code`` (and ``values``) name the catalogue entry."""

    def __init__(self, code: str, **values: str | int | float) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


@dataclass(frozen=True)
class Folders:
    """Tag id -> the training folder its images go to (None: the tag name cannot be a folder)."""

    by_tag_id: dict[str, str | None]

    @classmethod
    def of(cls, tags: list[Any], negative_folder: str) -> Folders:
        out: dict[str, str | None] = {}
        for tag in tags:
            if tag.type == "Negative":
                out[tag.id] = negative_folder
            else:
                out[tag.id] = tag.name.strip() if usable_folder(tag.name, negative_folder) else None
        return cls(out)


def usable_folder(name: str, negative_folder: str) -> bool:
    """A regular tag's name as a top folder that the mirror reads back as the same tag."""
    name = name.strip()
    return (
        0 < len(name) <= MAX_TAG_NAME
        and "/" not in name
        and "\\" not in name
        and name.strip(".") != ""
        and tag_key(name) != tag_key(negative_folder)
    )


# A GET is safe to repeat: once more when a pooled connection turns out closed, never on a status or redirect.
RETRIES = urllib3.Retry(total=1, connect=1, read=1, redirect=0, status=0, raise_on_redirect=False)


def download(url: str, pool: urllib3.PoolManager) -> bytes:
    """The image behind the service's own signed link (``originalImageUri``): no redirects, at most
    MAX_IMAGE_BYTES (see shared.customvision.links)."""
    try:
        return links.get(pool, url, MAX_IMAGE_BYTES, RETRIES, "import: an image")
    except links.LinkFailed as failed:
        if failed.too_large:
            raise ImageNotCopied("ImportTooLarge", limit=f"{MAX_IMAGE_BYTES // (1024 * 1024)} MB") from None
        raise ImageNotCopied("ImportDownloadFailed") from None


def extension_of(data: bytes, url: str) -> str:
    """The file extension of the image's format (read from the bytes; the URI's as a fallback)."""
    try:
        found = Image.open(io.BytesIO(data)).format
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        found = None
    if found in EXTENSIONS:
        return EXTENSIONS[found]
    suffix = posixpath.splitext(urlsplit(url).path)[1].lower().lstrip(".")
    suffix = {"jpeg": "jpg", "tiff": "tif"}.get(suffix, suffix)
    if suffix in CONTENT_TYPES:
        return suffix
    raise ImageNotCopied("NotAnImage")


class ImportStep:
    """The ``import`` step of a run: copies pages of tagged images, then ends the run as succeeded."""

    def __init__(self, context: StepContext) -> None:
        self.settings, self.cv, self.state_container = context.settings, context.cv, context.state_container
        self.training = context.training_container
        self.save, self.enqueue, self.finish = context.save, context.enqueue, context.finish
        timeout = urllib3.Timeout(connect=10.0, read=DOWNLOAD_TIMEOUT_SECONDS)
        self.pool = urllib3.PoolManager(timeout=timeout, retries=False)

    def run(self, run: Run) -> Step | None:
        record = run.record
        pid = self.cv.project_id(create=False)
        if record.import_counts is None:  # the first invocation: the project and its untagged images
            self.cv.training(lambda t: t.get_project(pid), "get project")
            untagged = self.cv.training(lambda t: t.get_untagged_image_count(pid), "count untagged images")
            record.project_id = pid
            record.import_counts = ImportCounts(untagged=untagged or 0)
            self.save(run)
        counts = record.import_counts
        folders = Folders.of(
            self.cv.training(lambda t: t.get_tags(pid), "list tags"), self.settings.negative_folder
        )
        manifest = Manifest(self.state_container)
        manifest.for_project(pid)
        ensure_container(self.training)
        present = {entry.image_id for entry in manifest.entries().values() if entry.image_id}
        for _ in range(PAGES_PER_INVOCATION):
            skip = counts.tagged
            page = (
                self.cv.training(
                    lambda t, s=skip: t.get_tagged_images(pid, order_by="Oldest", take=PAGE_SIZE, skip=s),
                    "list tagged images",
                )
                or []
            )
            for image in page:
                self._one(image, folders, manifest, counts, present)
            counts.tagged += len(page)
            if page:
                manifest.save()  # before the record: a page redone after a crash finds its blobs recorded
            self.save(run)
            if len(page) < PAGE_SIZE:
                log.info("import run %s: %s", run.run_id, counts)
                self.finish(run, Status.SUCCEEDED)
                return None
        self.enqueue(run, 0)  # keep each invocation short: continue in a new message
        return None

    def _one(
        self, image: Any, folders: Folders, manifest: Manifest, counts: ImportCounts, present: set[str]
    ) -> None:
        """Copy one image; ``present``: the images a manifest entry maps a blob to (grows as we copy)."""
        if image.id in present:  # a blob in the container is this image already (uploaded or imported)
            counts.already_present += 1
            return
        blob = None
        try:
            tags = list(image.tags or [])
            if len(tags) != 1:
                raise ImageNotCopied("ImportMultipleTags")
            folder = folders.by_tag_id.get(tags[0].tag_id)
            if folder is None:
                raise ImageNotCopied("ImportTagNotAFolder")
            url = image.original_image_uri or ""
            data = download(url, self.pool)
            blob = f"{folder}/{image.id}.{extension_of(data, url)}"
            copied = self._write(blob, data, image.id, folder, tags[0].tag_id, manifest)
        except ImageNotCopied as failure:
            counts.failed += 1
            if len(counts.failures) < MAX_FAILURES_LISTED:
                message = catalogue.text(failure.code, **failure.values)
                counts.failures.append(ImportFailure(image.id, blob, failure.code, message))
            return
        present.add(image.id)
        if copied:
            counts.copied += 1
        else:
            counts.already_present += 1

    def _write(
        self, blob: str, data: bytes, image_id: str, folder: str, tag_id: str, manifest: Manifest
    ) -> bool:
        """Write the blob create-only and record it; False when a blob of that name was there already."""
        md5 = hashlib.md5(data).digest()  # set as the blob's Content-MD5, which the mirror's listing reads
        digest = md5_of(md5)
        ext = blob.rsplit(".", 1)[1]
        settings = ContentSettings(content_type=CONTENT_TYPES[ext], content_md5=bytearray(md5))
        client = self.training.get_blob_client(blob)
        try:
            written = client.upload_blob(data, overwrite=False, content_settings=settings)
        except ResourceExistsError:
            # Left as it is. When it holds these very bytes (a copy whose record was lost), record it.
            properties = client.get_blob_properties()
            same = md5_of(properties.content_settings.content_md5) == digest
            if same and manifest.entry(blob) is None:
                manifest.record_imported(blob, properties.etag, digest, image_id, tag_key(folder), tag_id)
            return False
        manifest.record_imported(blob, written["etag"], digest, image_id, tag_key(folder), tag_id)
        return True
