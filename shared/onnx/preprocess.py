"""Turn an image into an exported model's input, as the model's metadata says.

``Image.BitmapPixelFormat`` (``Bgr8``: BGR, else RGB) and ``Image.NominalPixelRange``
(``NominalRange_0_255``: 0..255, ``Normalized_1_1``: -1..1, else 0..1) are read exactly as Microsoft's
sample consumer reads them. The geometry follows ``CustomVision.Preprocess.*`` when it names the
service's own steps (``ByShorterSide`` resize to the target, then ``OneCropCenter`` to the input size);
otherwise the whole image is resized to the input size, no crop, as the sample does.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from shared.errors import PermanentError
from shared.onnx.package import ModelError

PIXEL_FORMATS = ("Rgb8", "Bgr8")
PIXEL_RANGES = {  # value -> (scale, offset) applied to 0..255
    "NominalRange_0_255": (1.0, 0.0),
    "Normalized_0_1": (1.0 / 255.0, 0.0),
    "Normalized_1_1": (2.0 / 255.0, -1.0),
}
# A JPEG is decoded at a reduced scale (1/2, 1/4, 1/8) while both sides stay at least this many times the
# input's: several times faster than a full decode, and the resize that follows averages as much anyway.
DRAFT_FACTOR = 10 / 7
MAX_DECODED_PIXELS = 40_000_000


@dataclass(frozen=True)
class Preprocessing:
    height: int
    width: int
    bgr: bool
    scale: float
    offset: float
    dtype: type
    shorter_side: tuple[int, int] | None = None  # (width, height) to resize to before a centre crop

    @classmethod
    def from_metadata(cls, height: int, width: int, dtype: type, metadata: dict[str, str]) -> Preprocessing:
        """The steps ``metadata`` (ONNX ``metadata_props`` over ``metadata_properties.json``) describes."""
        pixel_format = metadata.get("Image.BitmapPixelFormat", "Rgb8")
        if pixel_format not in PIXEL_FORMATS:
            raise ModelError(
                "ModelInputUnsupported",
                f"Image.BitmapPixelFormat is {pixel_format}; the pipeline feeds {' or '.join(PIXEL_FORMATS)}",
            )
        pixel_range = metadata.get("Image.NominalPixelRange", "Normalized_0_1")
        if pixel_range not in PIXEL_RANGES:
            raise ModelError(
                "ModelInputUnsupported",
                f"Image.NominalPixelRange is {pixel_range}; the pipeline feeds {', '.join(PIXEL_RANGES)}",
            )
        scale, offset = PIXEL_RANGES[pixel_range]
        return cls(
            height,
            width,
            pixel_format == "Bgr8",
            scale,
            offset,
            dtype,
            _shorter_side(metadata, height, width),
        )

    def decode(self, data: bytes) -> Image.Image:
        """``data`` as an upright RGB image (EXIF orientation applied, transparency on white)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data))
                if image.format == "JPEG":
                    target = self.shorter_side or (self.width, self.height)
                    image.draft(
                        "RGB", (math.ceil(target[0] * DRAFT_FACTOR), math.ceil(target[1] * DRAFT_FACTOR))
                    )
                if image.width * image.height > MAX_DECODED_PIXELS:
                    raise PermanentError("ImageTooLarge", limit=f"at most {MAX_DECODED_PIXELS:,} pixels")
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # no copy when upright
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise PermanentError("NotAnImage") from None
        return _rgb(image)

    def input_array(self, image: Image.Image) -> np.ndarray:
        """The model's ``data``: ``[1, 3, height, width]`` in the declared channel order and range."""
        rgb = _rgb(image)
        if self.shorter_side is not None:
            rgb = _centre_crop(_fit_shorter_side(rgb, self.shorter_side), self.width, self.height)
        elif rgb.size != (self.width, self.height):
            rgb = rgb.resize((self.width, self.height), Image.Resampling.BILINEAR, reducing_gap=3.0)
        pixels = np.asarray(rgb, dtype=np.float32)
        if self.bgr:
            pixels = pixels[:, :, ::-1]
        pixels = pixels * np.float32(self.scale) + np.float32(self.offset)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis], dtype=self.dtype)


def _shorter_side(metadata: dict[str, str], height: int, width: int) -> tuple[int, int] | None:
    """(target width, height) if the metadata names the service's resize-then-centre-crop, else None."""
    if metadata.get("CustomVision.Preprocess.ResizeMethod") != "ByShorterSide":
        return None
    if metadata.get("CustomVision.Preprocess.CropMethod") != "OneCropCenter":
        return None
    try:
        target = (
            round(float(metadata["CustomVision.Preprocess.TargetWidth"])),
            round(float(metadata["CustomVision.Preprocess.TargetHeight"])),
        )
        crop = (
            round(float(metadata["CustomVision.Preprocess.CropWidth"])),
            round(float(metadata["CustomVision.Preprocess.CropHeight"])),
        )
    except (KeyError, ValueError, OverflowError):
        return None
    if crop != (width, height) or target[0] < width or target[1] < height:
        return None
    return target


def _fit_shorter_side(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Resized, aspect kept, so that it covers ``target`` (its shorter side meets the target's)."""
    ratio = max(target[0] / image.width, target[1] / image.height)
    size = (max(target[0], round(image.width * ratio)), max(target[1], round(image.height * ratio)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def _centre_crop(image: Image.Image, width: int, height: int) -> Image.Image:
    left = (image.width - width) // 2
    top = (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
