"""The JPEG fast path of shared/imaging.normalise: a JPEG that fits is not decoded, and what needs work
(EXIF rotation, a JPEG cut short, one with data after its end marker) still gets it."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shared import imaging
from shared.errors import PermanentError


def _jpeg(size: tuple[int, int] = (400, 300), **save: object) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def test_a_jpeg_within_the_limits_passes_through_byte_identical_without_decoding(monkeypatch):
    data = _jpeg()

    def no_decode(self):  # Image.load is the decode: the fast path must not reach it
        raise AssertionError("the JPEG was decoded")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    monkeypatch.setattr(Image.Image, "draft", no_decode)
    result = imaging.normalise(data)
    assert result.data is data and result.changes == ()
    assert (result.width, result.height, result.source_format) == (400, 300, "JPEG")


def test_an_exif_rotated_jpeg_is_still_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 counter-clockwise to display
    result = imaging.normalise(_jpeg((400, 300), exif=exif.tobytes()))
    assert result.changes == ("applied EXIF orientation 8",)
    assert (result.width, result.height) == (300, 400)
    assert Image.open(io.BytesIO(result.data)).getexif().get(0x0112, 1) == 1


def test_a_jpeg_cut_short_is_still_refused():
    data = _jpeg()
    with pytest.raises(PermanentError) as refused:
        imaging.normalise(data[: len(data) * 2 // 3])
    assert refused.value.code == "NotAnImage"


def test_a_whole_jpeg_with_bytes_after_its_end_marker_is_checked_by_decoding_and_kept():
    data = _jpeg() + b"trailing metadata of some camera"
    result = imaging.normalise(data)
    assert result.data is data and result.changes == ()


def test_a_jpeg_over_the_byte_limit_is_re_encoded_not_passed_through():
    data = _jpeg((1200, 900))
    result = imaging.normalise(data, max_bytes=len(data) // 2)
    assert len(result.data) <= len(data) // 2 and result.changes
