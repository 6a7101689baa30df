"""The containers the console may touch (by area name, never by a container name from the request),
blob-name checks, and collision-safe moves and copies between them.

A move is download + conditional create of the target + ETag-conditioned delete of the source: if the
source changed meanwhile, the new copy is removed again and nothing is lost.
"""

from __future__ import annotations

import contextlib
import posixpath
from dataclasses import dataclass

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContainerClient, ContentSettings

from shared.console.http import BadRequest, Conflict, NotFound
from shared.settings.definitions import Settings
from shared.storage import Storage, ensure_container

# Areas whose images the console shows (thumbnails); "discarded" only holds what the review queue
# discarded, so that an undo can bring it back.
IMAGE_AREAS = ("images", "review", "training")
DISCARDED_PREFIX = "console/discarded/"
MAX_NAME = 1024
MAX_TAG = 256


def check_name(name: str) -> str:
    """A blob name the console accepts: no '..', no leading '/', no control characters."""
    if (
        not name
        or len(name) > MAX_NAME
        or ".." in name
        or name.startswith("/")
        or "\\" in name
        or any(ord(c) < 32 for c in name)
    ):
        raise BadRequest("BadBlobName")
    return name


def check_tag(tag: str, allowed: set[str]) -> str:
    """A tag folder: one of ``allowed`` (compared case-insensitively, like the service), as spelt there."""
    for known in allowed:
        if known.lower() == tag.lower():
            return known
    raise BadRequest("BadTag", tag=tag[:MAX_TAG])


@dataclass(frozen=True)
class BlobAt:
    area: str
    name: str

    def as_dict(self) -> dict[str, str]:
        return {"area": self.area, "name": self.name}


class Areas:
    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.containers = {
            "images": storage.container(settings.images_container),
            "review": storage.container(settings.review_container),
            "training": storage.container(settings.training_container),
            "results": storage.container(settings.results_container),
            "discarded": storage.container(settings.pipeline_container),
        }

    def image_container(self, area: str) -> ContainerClient:
        if area not in IMAGE_AREAS:
            raise BadRequest("BadArea", allowed=", ".join(IMAGE_AREAS))
        return self.containers[area]

    def _blob_name(self, at: BlobAt) -> str:
        return DISCARDED_PREFIX + at.name if at.area == "discarded" else at.name

    def exists(self, at: BlobAt) -> bool:
        return self.containers[at.area].get_blob_client(self._blob_name(at)).exists()

    def read(self, at: BlobAt) -> tuple[bytes, str]:
        """The blob's bytes and ETag."""
        try:
            downloader = self.containers[at.area].download_blob(self._blob_name(at))
        except ResourceNotFoundError:
            raise NotFound("BlobNotFound", area=at.area, name=at.name) from None
        return downloader.readall(), downloader.properties.etag

    def create(
        self, area: str, wanted: str, data: bytes, content_settings: ContentSettings | None = None
    ) -> BlobAt:
        """Write ``data`` under ``wanted`` or, if taken, ``stem-2.ext``, ``stem-3.ext``: never overwrites."""
        container = self.containers[area]
        ensure_container(container)
        stem, ext = posixpath.splitext(wanted)
        for attempt in range(1, 1000):
            name = wanted if attempt == 1 else f"{stem}-{attempt}{ext}"
            at = BlobAt(area, name)
            try:
                container.upload_blob(
                    self._blob_name(at), data, overwrite=False, content_settings=content_settings
                )
                return at
            except ResourceExistsError:
                continue
        raise Conflict("BlobChanged", area=area, name=wanted)

    def delete(self, at: BlobAt, etag: str | None = None) -> None:
        """Delete (only that version when ``etag`` is given); raises Conflict when it changed."""
        blob = self.containers[at.area].get_blob_client(self._blob_name(at))
        try:
            if etag is None:
                blob.delete_blob()
            else:
                blob.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            raise NotFound("BlobNotFound", area=at.area, name=at.name) from None
        except ResourceModifiedError:
            raise Conflict("BlobChanged", area=at.area, name=at.name) from None

    def move(self, source: BlobAt, area: str, wanted: str) -> BlobAt:
        data, etag = self.read(source)
        target = self.create(area, wanted, data)
        try:
            self.delete(source, etag)
        except (Conflict, NotFound):
            with contextlib.suppress(ResourceNotFoundError):
                self.containers[area].delete_blob(self._blob_name(target))
            raise
        return target

    def copy(self, source: BlobAt, area: str, wanted: str) -> BlobAt:
        data, _ = self.read(source)
        return self.create(area, wanted, data)


def training_name(tag: str, source_name: str) -> str:
    """training/{tag}/{file}: the file part of the source name (folders dropped)."""
    return f"{tag}/{posixpath.basename(source_name)}"


def list_page(
    container: ContainerClient, token: str | None, size: int, prefix: str | None = None
) -> tuple[list[str], str | None]:
    """One page of blob names (one listing call) and the service's token for the next; a missing
    container is an empty one; a token the service refuses is the caller's error."""
    try:
        pager = container.list_blobs(name_starts_with=prefix, results_per_page=size).by_page(token or None)
        first = next(pager, None)
        return ([b.name for b in first][:size] if first is not None else []), pager.continuation_token
    except ResourceNotFoundError:
        return [], None
    except HttpResponseError as error:
        if token and error.status_code == 400:
            raise BadRequest(
                "BadParameter", name="continuation", why="start again from the first page"
            ) from None
        raise
