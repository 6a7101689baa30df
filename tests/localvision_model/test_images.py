"""prepare_image: real images in, RGB out, the right way up; anything else refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from localvision.ml import ImageDecodeError, prepare_image

ORIENTATION = 0x0112


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _red_left_blue_right(width: int = 80, height: int = 40) -> Image.Image:
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


@pytest.mark.parametrize(
    "data",
    [b"", b"this is not an image", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\xff\xd8\xff\xe0" + b"\x00" * 40],
)
def test_refuses_what_is_not_an_image(data: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        prepare_image(data)


def test_refuses_a_truncated_jpeg() -> None:
    data = _encode(Image.effect_noise((640, 480), 60).convert("RGB"), "JPEG")
    with pytest.raises(ImageDecodeError, match="damaged or truncated"):
        prepare_image(data[: len(data) // 2])


def test_honours_exif_orientation() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # stored sideways: rotate 90 degrees clockwise to display
    data = _encode(_red_left_blue_right(), "JPEG", exif=exif.tobytes(), quality=95)
    image = prepare_image(data)
    assert image.size == (40, 80)
    top, bottom = image.getpixel((20, 10)), image.getpixel((20, 70))
    assert top[0] > 200 and top[2] < 60  # the stored left (red) edge is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_flattens_alpha_on_white() -> None:
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 10, 20))
    result = prepare_image(_encode(image, "PNG"))
    assert result.mode == "RGB"
    assert result.getpixel((15, 5)) == (255, 255, 255)
    assert result.getpixel((5, 5)) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "GIF", "JPEG"])
def test_reads_the_formats_custom_vision_takes(fmt: str) -> None:
    source = _red_left_blue_right().convert("L" if fmt == "GIF" else "RGB")
    result = prepare_image(_encode(source, fmt))
    assert result.mode == "RGB" and result.size == (80, 40)


def test_large_jpegs_decode_at_reduced_size_unless_asked() -> None:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (768, 1024, 3), dtype=np.uint8))
    data = _encode(photo, "JPEG")
    assert prepare_image(data).size == (512, 384)
    assert prepare_image(data, draft=False).size == (1024, 768)


def test_refuses_an_image_too_large_to_decode() -> None:
    # A flat 8000x6000 PNG is tiny on the wire but would take 144 MB decoded.
    data = _encode(Image.new("L", (8000, 6000), 128), "PNG")
    assert len(data) < 200_000
    with pytest.raises(ImageDecodeError, match="8000x6000 pixels, too large"):
        prepare_image(data)
