"""Downloads behind signed links: an image's original bytes, a resized copy and a thumbnail; export zips.

Link paths are ``/localvision/files/projects/{projectId}/images/{imageId}/{kind}`` and
``/localvision/files/projects/{projectId}/iterations/{iterationId}/exports/{file}``; the signature covers
that path (``localvision.signing``), so any prefix before it (a proxy's) does not matter.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from localvision.persistence import Store
from localvision.signing import UrlSigner
from localvision.state.views import ExportView, ImageFile

FILES_ROOT = "/localvision/files"
RENDITIONS = {"resized": 1024, "thumbnail": 200}  # longest side in px; smaller images are kept as they are
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "bmp": "image/bmp", "gif": "image/gif"}
KINDS = ("original", *RENDITIONS)


def file_path(project_id: str, image_id: str, kind: str) -> str:
    return f"{FILES_ROOT}/projects/{project_id}/images/{image_id}/{kind}"


def export_file_path(project_id: str, iteration_id: str, file_name: str) -> str:
    return f"{FILES_ROOT}/projects/{project_id}/iterations/{iteration_id}/exports/{file_name}"


@dataclass(frozen=True)
class ImageLinks:
    """Builds the three signed links of an image for one reply."""

    signer: UrlSigner
    base_url: str  # scheme://host[:port][prefix] as the client reached the server

    def link(self, project_id: str, image_id: str, kind: str) -> str:
        return self.base_url + self.signer.sign(file_path(project_id, image_id, kind))

    def export_link(self, export: ExportView) -> str | None:
        """The signed link of a Done export's zip; None before it is Done."""
        if export.file_name is None:
            return None
        path = export_file_path(export.project_id, export.iteration_id, export.file_name)
        return self.base_url + self.signer.sign(path)


def read(store: Store, image: ImageFile, kind: str) -> tuple[bytes, str]:
    """The bytes and media type of an image's ``kind``; renditions are made once and kept beside it."""
    original = store.read_image(image.project_id, image.sha256)
    if kind == "original":
        return original, MEDIA_TYPES.get(image.format, "application/octet-stream")
    path = store.rendition_path(image.project_id, image.sha256, kind)
    if path.exists():
        return path.read_bytes(), "image/jpeg"
    with Image.open(io.BytesIO(original)) as source:
        source.draft("RGB", (RENDITIONS[kind], RENDITIONS[kind]))  # JPEG: decode at a reduced scale
        picture = ImageOps.exif_transpose(source).convert("RGB")
    picture.thumbnail((RENDITIONS[kind], RENDITIONS[kind]))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    data = buffer.getvalue()
    store.put_rendition(image.project_id, image.sha256, kind, data)
    return data, "image/jpeg"
