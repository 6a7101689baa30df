"""The service's documented limits: image bytes, formats and dimensions, and the F0 / S0 tiers."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from localvision import exceptions as errors
from localvision.exceptions import ServiceError

log = logging.getLogger("localvision")

MB = 1024 * 1024
MAX_TRAINING_IMAGE_BYTES = 6 * MB
MAX_PREDICTION_IMAGE_BYTES = 4 * MB
MAX_DIMENSION = 10_240  # px, width or height; smaller than 256 px is accepted (the service upscales)
MAX_ASPECT_RATIO = 25.0
FORMATS = {"JPEG": "jpg", "PNG": "png", "BMP": "bmp", "GIF": "gif"}
MAX_IMAGES_PER_BATCH = 64
MAX_TAGS_PER_BATCH = 20
MAX_TAGS_PER_IMAGE = 100
MAX_ITERATIONS = 20
MIN_IMAGES_PER_TAG = 5
MAX_TAKE = 256
MAX_METADATA_PAIRS = 10
MAX_METADATA_KEY = 128
MAX_METADATA_VALUE = 256


class ImageRejected(Exception):
    """A refused image: ``status`` is the per-image ImageCreateStatus, ``error`` the catalogued error."""

    def __init__(self, status: str, error: ServiceError) -> None:
        super().__init__(error.message)
        self.status = status
        self.error = error


@dataclass(frozen=True)
class ImageInfo:
    format: str  # jpg | png | bmp | gif
    width: int
    height: int


def inspect_image(data: bytes, max_bytes: int, *, decode: bool = True) -> ImageInfo:
    """Check an upload against the limits; ``decode`` also proves the pixels decode (cheaply, at 1/8 size)."""
    if not data:
        raise ImageRejected("ErrorSource", errors.IMAGE_EMPTY.error())
    if len(data) > max_bytes:
        raise ImageRejected(
            "ErrorImageSize", errors.IMAGE_TOO_LARGE.error(size=len(data), limit=max_bytes // MB)
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = FORMATS.get(image.format or "")
            width, height = image.size
            if kind and decode:
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
    except UnidentifiedImageError:
        raise ImageRejected("ErrorImageFormat", errors.IMAGE_FORMAT.error()) from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        log.info("image refused as damaged: %s", error)
        raise ImageRejected("ErrorImageFormat", errors.IMAGE_DAMAGED.error()) from None
    if kind is None:
        raise ImageRejected("ErrorImageFormat", errors.IMAGE_KIND.error(format=image.format))
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        dimensions = errors.IMAGE_DIMENSIONS.error(width=width, height=height, limit=MAX_DIMENSION)
        raise ImageRejected("ErrorImageDimensions", dimensions)
    if max(width, height) / max(1, min(width, height)) > MAX_ASPECT_RATIO:
        aspect = errors.IMAGE_ASPECT.error(width=width, height=height, limit=int(MAX_ASPECT_RATIO))
        raise ImageRejected("ErrorImageDimensions", aspect)
    return ImageInfo(kind, width, height)


@dataclass(frozen=True)
class Tier:
    name: str
    max_projects: int
    max_tags: int
    max_images: int
    predictions_per_second: int
    nostore_predictions_per_second: int


TIERS = {
    "F0": Tier("F0", 2, 50, 5_000, 2, 2),
    "S0": Tier("S0", 100, 500, 100_000, 10, 20),
}


class PredictionQuota:
    """The server's side of a tier's rate: refuses a call when ``limit`` calls came in the last window.

    (A client-side limiter waits before calling; this one answers 429 instead of waiting.)
    """

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self._limit = limit
        self._window = window
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._calls and now - self._calls[0] >= self._window:
                self._calls.popleft()
            if len(self._calls) >= self._limit:
                return False
            self._calls.append(now)
            return True
