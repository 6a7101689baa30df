"""Small JPEG previews of the pipeline's images, made with Pillow and cached by the browser with ETags.

The ETag is derived from the image blob's own ETag and the preview size, so ``If-None-Match`` is
answered with 304 after one properties call, without downloading or decoding the image.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from azure.core.exceptions import ResourceNotFoundError
from PIL import Image, ImageOps

from shared.console.areas import Areas, check_name
from shared.console.http import BadRequest, ConsoleResponse, NotFound, Unprocessable, respond

SIZES = {"small": 256, "large": 1024}
MAX_SOURCE_BYTES = 50 * 1024 * 1024
MAX_SOURCE_PIXELS = 2 * Image.MAX_IMAGE_PIXELS
JPEG_QUALITY = 80
VERSION = "1"  # bump when the way previews are made changes, so browsers fetch new ones


def preview_etag(blob_etag: str, size: str) -> str:
    digest = hashlib.sha256(f"{VERSION}|{size}|{blob_etag}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def make_preview(data: bytes, side: int) -> bytes:
    """A JPEG no larger than side x side; raises ValueError when ``data`` is not a readable image."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_SOURCE_PIXELS:
                raise ValueError("too many pixels")
            image.draft("RGB", (side, side))  # JPEG: decode at reduced scale
            image = ImageOps.exif_transpose(image)
            image.thumbnail((side, side))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        except (OSError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValueError(str(exc)) from exc
    return out.getvalue()


def thumbnail(areas: Areas, area: str, name: str, size: str, if_none_match: str | None) -> ConsoleResponse:
    container = areas.image_container(area)
    check_name(name)
    if size not in SIZES:
        raise BadRequest("BadParameter", name="size", why=f"use one of {', '.join(SIZES)}")
    blob = container.get_blob_client(name)
    try:
        props = blob.get_blob_properties()
    except ResourceNotFoundError:
        raise NotFound("BlobNotFound", area=area, name=name) from None
    etag = preview_etag(props.etag, size)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
        return respond(304, b"", "image/jpeg", headers)
    if props.size > MAX_SOURCE_BYTES:
        raise Unprocessable("NotViewable", area=area, name=name)
    try:
        data = blob.download_blob().readall()
    except ResourceNotFoundError:
        raise NotFound("BlobNotFound", area=area, name=name) from None
    try:
        preview = make_preview(data, SIZES[size])
    except ValueError:
        raise Unprocessable("NotViewable", area=area, name=name) from None
    return respond(200, preview, "image/jpeg", headers)
