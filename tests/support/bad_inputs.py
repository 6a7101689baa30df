"""A corpus of awkward and hostile image files, made here rather than shipped.

Each case is a blob name and its bytes, and says whether the pipeline should classify it (``ok``) or answer
with an error document (``error``). Large cases are generated on demand so nothing big lives in the repo.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image


@dataclass(frozen=True)
class BadInput:
    name: str
    make: Callable[[], bytes]
    expect: str  # "ok" or "error"
    why: str
    code: str | None = None  # for "error": the error code the document must carry


def _jpeg(image: Image.Image, **save_args: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **save_args)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _photo(fruit: Path) -> Image.Image:
    with Image.open(fruit) as img:
        return img.convert("RGB")


def _exif_rotated(fruit: Path) -> bytes:
    """The photo stored turned on its side with EXIF orientation 6 (rotate 90 CW to view upright)."""
    upright = _photo(fruit)
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(stored, exif=exif.tobytes())


def _png_bomb() -> bytes:
    """A tiny PNG that claims 40000 x 40000 pixels (1.6 G pixels): a decompression bomb."""
    width = height = 40_000
    raw_row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(raw_row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _huge_png() -> bytes:
    """About 30 MB of PNG: random noise does not compress."""
    import random

    rng = random.Random(7)
    side = 3200
    noise = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    return _png(noise)


def _animated_gif(fruit: Path) -> bytes:
    frame = _photo(fruit).resize((400, 300))
    frames = [frame, frame.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return out.getvalue()


def _encoded(fruit: Path, fmt: str, mode: str = "RGB") -> Callable[[], bytes]:
    def make() -> bytes:
        out = io.BytesIO()
        image = _photo(fruit)
        if mode == "I;16":
            image = image.convert("L").point(lambda v: v * 256, mode="I").convert("I;16")
        elif mode != "RGB":
            image = image.convert(mode)
        image.save(out, fmt)
        return out.getvalue()

    return make


def corpus(good_photo: Path) -> list[BadInput]:
    """Every case, built from one good photo of the fruit set."""
    good = good_photo.read_bytes()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><circle r="100"/></svg>'
    return [
        BadInput("bad/zero-bytes.jpg", lambda: b"", "error", "empty file", "NotAnImage"),
        BadInput(
            "bad/text.jpg", lambda: b"this is not an image\n" * 20, "error", "text named .jpg", "NotAnImage"
        ),
        BadInput(
            "bad/truncated.jpg", lambda: good[: len(good) // 3], "error", "JPEG cut short", "NotAnImage"
        ),
        BadInput(
            "bad/one-pixel.png",
            lambda: _png(Image.new("RGB", (1, 1), "red")),
            "error",
            "1x1 pixel",
            "ImageTooSmall",
        ),
        BadInput(
            "bad/huge-12000.jpg",
            lambda: _jpeg(Image.new("RGB", (12_000, 12_000), (200, 180, 40))),
            "ok",
            "12000 x 12000 pixels: over 10,240 px, downscaled",
        ),
        BadInput("bad/30mb.png", _huge_png, "ok", "about 30 MB PNG: over 4 MB, re-encoded smaller"),
        BadInput("bad/bomb.png", _png_bomb, "error", "decompression bomb", "ImageTooLarge"),
        BadInput("bad/cmyk.jpg", _encoded(good_photo, "JPEG", "CMYK"), "ok", "CMYK JPEG"),
        BadInput("bad/16bit.png", _encoded(good_photo, "PNG", "I;16"), "ok", "16-bit greyscale PNG"),
        BadInput("bad/alpha.png", _encoded(good_photo, "PNG", "RGBA"), "ok", "PNG with alpha"),
        BadInput("bad/exif-rotated.jpg", lambda: _exif_rotated(good_photo), "ok", "EXIF orientation 6"),
        BadInput("bad/animated.gif", lambda: _animated_gif(good_photo), "ok", "animated GIF"),
        BadInput("bad/photo.webp", _encoded(good_photo, "WEBP"), "ok", "WEBP, converted to JPEG"),
        BadInput("bad/photo.tiff", _encoded(good_photo, "TIFF"), "ok", "TIFF, converted to JPEG"),
        BadInput("bad/drawing.svg", lambda: svg, "error", "SVG is not a raster image", "NotAnImage"),
        BadInput("bad/a name with spaces.jpg", lambda: good, "ok", "spaces in the name"),
        BadInput("bad/ünïcödé-名前.jpg", lambda: good, "ok", "unicode name"),
        BadInput("bad/deeply/nested/folder/photo.jpg", lambda: good, "ok", "nested folders"),
    ]
