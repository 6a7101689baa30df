"""Image normalisation: turn what users drop into something Custom Vision accepts, or refuse it clearly.

Custom Vision takes JPEG, PNG, GIF and BMP up to 4 MB (prediction) / 6 MB (training), at most 10,240 px
a side and 25:1 aspect. Anything else Pillow can read (WEBP, TIFF, ...) is converted to JPEG; EXIF
orientation is applied; big images are downscaled. Images that already fit pass through byte for byte.

The hot path is a JPEG that already fits: for it only the header is read (size, format, EXIF orientation)
and its end-of-image marker looked for; it is not decoded. A JPEG without that marker (cut short, or with
data after it) is decoded at 1/8 scale to prove it is whole.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import PermanentError

log = logging.getLogger(__name__)
PREDICTION_MAX_BYTES = 4 * 1024 * 1024
TRAINING_MAX_BYTES = 6 * 1024 * 1024
MAX_SIDE = 10_240
# Below this on the shorter side an image is an icon or a tracking pixel: nothing to classify. (Custom
# Vision upscales images under 256 px; it refuses some tiny ones with BadRequestImageDimensions.)
MIN_SIDE = 32
MAX_ASPECT = 25.0
# Pillow refuses images over 2 x MAX_IMAGE_PIXELS as decompression bombs. We refuse from 1 x (about 89
# megapixels, e.g. 10,940 x 8,180), which bounds the memory one image can take (about 270 MB as RGB),
# except for JPEG up to Pillow's own limit (about 179 megapixels, e.g. 12,000 x 12,000 or 16,384 x 10,922):
# JPEG is the common format of very large photos and the only one Pillow can decode at reduced scale.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
MAX_JPEG_PIXELS = 2 * Image.MAX_IMAGE_PIXELS
ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "BMP"}  # an MPO (multi-picture JPEG) is re-encoded
JPEG_QUALITY = 90
JPEG_END = b"\xff\xd9"  # EOI: the last marker of a complete JPEG


@dataclass(frozen=True)
class NormalisedImage:
    data: bytes
    width: int
    height: int
    source_format: str
    changes: tuple[str, ...]  # what was done, e.g. ("rotated", "converted WEBP to JPEG"); empty: untouched


def _open(data: bytes) -> Image.Image:
    if not data:
        raise PermanentError("NotAnImage")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit follows
            image = Image.open(io.BytesIO(data))
        limit = MAX_JPEG_PIXELS if image.format == "JPEG" else MAX_PIXELS
        if image.width * image.height > limit:
            raise Image.DecompressionBombError(f"{image.width}x{image.height} is more than {limit:,} pixels")
        return image
    except Image.DecompressionBombError:
        raise PermanentError(
            "ImageTooLarge", limit=f"at most {MAX_PIXELS:,} pixels, {MAX_SIDE} px a side"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        log.info("not an image: %s: %s", type(exc).__name__, exc)
        raise PermanentError("NotAnImage") from None


def _check_shape(width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE:
        raise PermanentError("ImageTooSmall", width=width, height=height, minimum=MIN_SIDE)
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise PermanentError("ImageAspectRatio", width=width, height=height, maximum=f"{MAX_ASPECT:.0f}")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _encode_jpeg(image: Image.Image, max_bytes: int, changes: list[str]) -> tuple[bytes, Image.Image]:
    """JPEG bytes under ``max_bytes`` and the image they encode (downscaled as needed)."""
    for _ in range(6):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        if out.tell() <= max_bytes:
            return out.getvalue(), image
        scale = math.sqrt(max_bytes / out.tell()) * 0.9
        image = image.resize(
            (max(1, int(image.width * scale)), max(1, int(image.height * scale))), Image.LANCZOS
        )
        changes.append(f"downscaled to {image.width}x{image.height} to fit {max_bytes // (1024 * 1024)} MB")
    raise PermanentError("ImageTooLarge", limit=f"could not be compressed under {max_bytes:,} bytes")


def normalise(data: bytes, max_bytes: int = PREDICTION_MAX_BYTES) -> NormalisedImage:
    """Return the image as Custom Vision will take it, or raise PermanentError saying what is wrong."""
    image = _open(data)
    source_format = image.format or "unknown"
    width, height = image.size
    _check_shape(width, height)
    orientation = image.getexif().get(0x0112, 1)  # read from the header: no decoding yet
    changes: list[str] = []
    if source_format not in ACCEPTED_FORMATS:
        changes.append(f"converted {source_format} to JPEG")
    if orientation not in (0, 1):
        changes.append(f"applied EXIF orientation {orientation}")
    if max(width, height) > MAX_SIDE:
        changes.append(f"downscaled from {width}x{height} to at most {MAX_SIDE} px a side")
    if len(data) > max_bytes and not changes:
        changes.append(f"re-encoded to fit {max_bytes // (1024 * 1024)} MB")
    if not changes and image.format == "JPEG" and _ends_complete(data):
        return NormalisedImage(data, width, height, source_format, ())
    if image.format == "JPEG" and (not changes or max(width, height) > MAX_SIDE):
        # Decode at 1/8 scale when the bytes pass through untouched (this only proves they decode), or at
        # the smallest scale that still covers MAX_SIDE when downscaling: far less time and memory.
        image.draft("RGB", (width // 8, height // 8) if not changes else (MAX_SIDE, MAX_SIDE))
    try:
        image.load()
    except (OSError, ValueError) as exc:
        log.info("corrupt or truncated image: %s: %s", type(exc).__name__, exc)
        raise PermanentError("NotAnImage") from None
    if not changes:
        return NormalisedImage(data, width, height, source_format, ())
    image = _to_rgb(ImageOps.exif_transpose(image))
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    encoded, final = _encode_jpeg(image, max_bytes, changes)
    return NormalisedImage(encoded, final.width, final.height, source_format, tuple(changes))


def _ends_complete(data: bytes) -> bool:
    """Whether a JPEG's bytes end with the end-of-image marker (some encoders pad with zero bytes)."""
    return data.rstrip(b"\x00").endswith(JPEG_END)
