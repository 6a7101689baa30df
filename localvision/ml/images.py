"""Decode uploaded bytes into RGB images, and turn images into the network's input."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from localvision.ml.graph import INPUT_SIZE

# JPEGs are decoded at a reduced scale (1/2, 1/4, 1/8) as long as both sides stay at least this big:
# the network sees 224x224, and training crops need some margin. A 1024x768 photo decodes at 512x384.
DRAFT_SIZE = (320, 320)
# Decoded RGB costs 3 bytes a pixel; this keeps one decode near 120 MB. JPEGs are checked after the
# reduced-scale decode is chosen, so far larger JPEGs pass.
MAX_DECODED_PIXELS = 40_000_000


class ImageDecodeError(ValueError):
    """The bytes are not an image this server can read."""


def prepare_image(data: bytes, *, draft: bool = True) -> Image.Image:
    """Decode ``data``, apply its EXIF orientation and return it as RGB (alpha flattened on white).

    With ``draft`` (the default) a large JPEG is decoded at a reduced size, which is several times
    faster; pass ``draft=False`` when the true pixel size matters.
    """
    if not data:
        raise ImageDecodeError("the image is empty: send the bytes of a JPEG, PNG, BMP or GIF file")
    try:
        image = Image.open(io.BytesIO(data))
        if draft and image.format == "JPEG":
            image.draft("RGB", DRAFT_SIZE)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"not a readable image: {exc}; send a JPEG, PNG, BMP or GIF file") from exc
    width, height = image.size
    if width * height > MAX_DECODED_PIXELS:
        raise ImageDecodeError(
            f"the image is {width}x{height} pixels, too large to decode (at most {MAX_DECODED_PIXELS:,} "
            "pixels): downscale it first"
        )
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"the image data is damaged or truncated: {exc}") from exc
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB mode; transparent parts become white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def to_network_input(image: Image.Image) -> np.ndarray:
    """The whole image resized to 224x224 (no crop) as uint8 ``[224, 224, 3]``."""
    rgb = to_rgb(image)
    if rgb.size != (INPUT_SIZE, INPUT_SIZE):
        rgb = rgb.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)
