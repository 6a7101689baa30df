"""Export zips made to hurt the in-process classifier: forged input sizes, bombs in the small members,
deeply nested JSON, values of the wrong type, repeated tags. Each is a catalogue ``ModelError`` (no
repr, no traceback), found before any large buffer is made."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from shared import catalogue
from shared.onnx.model import ModelError, OnnxClassifier
from tests.export.portal_zip import channel_means_model, portal_zip

RGB_0_1 = {"Image.BitmapPixelFormat": "Rgb8", "Image.NominalPixelRange": "Normalized_0_1"}


def _model(**kwargs) -> bytes:
    return channel_means_model(RGB_0_1, **kwargs).SerializeToString()


def _refusal(zip_bytes: bytes) -> tuple[str, str]:
    with pytest.raises(ModelError) as refused:
        OnnxClassifier.load(zip_bytes)
    return refused.value.code, refused.value.message


@pytest.mark.parametrize(
    ("side", "shape"),
    [(2048, "[1, 3, 2048, 2048]"), (60000, "[1, 3, 60000, 60000]"), (16, "[1, 3, 16, 16]")],
)
def test_an_input_outside_custom_visions_sizes_is_refused_before_any_allocation(side: int, shape: str):
    zip_bytes = portal_zip(_model(input_shape=(1, 3, side, side)), "abc")
    tracemalloc.start()
    try:
        code, message = _refusal(zip_bytes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    detail = f"data is shaped {shape}, and Custom Vision's exports take 32 to 1024 px a side"
    assert (code, message) == (
        "ModelInputUnsupported",
        catalogue.text("ModelInputUnsupported", detail=detail),
    )
    assert peak < 64 * 2**20  # nothing of the forged size was made (60000 x 60000 floats are 43 GB)


def test_the_largest_accepted_input_still_loads():
    classifier = OnnxClassifier.load(portal_zip(_model(input_shape=(1, 3, 1024, 512)), "abc"))
    assert (classifier.info.height, classifier.info.width) == (1024, 512)


@pytest.mark.parametrize(
    ("member", "body", "detail"),
    [
        ("labels.txt", b"a\n" * (2 * 2**20), "labels.txt is larger than 512 KB"),
        (
            "metadata_properties.json",
            json.dumps({"Image.BitmapPixelFormat": "Rgb8", "padding": "x" * 2**20}).encode(),
            "metadata_properties.json is larger than 64 KB",
        ),
        ("cvexport.manifest", b" " * 2**20 + b"{}", "cvexport.manifest is larger than 64 KB"),
    ],
)
def test_a_bomb_in_a_small_member_is_refused_by_its_roles_limit(member: str, body: bytes, detail: str):
    zip_bytes = portal_zip(_model(), "abc", raw={member: body})
    assert len(zip_bytes) < 20_000  # it compresses to almost nothing
    tracemalloc.start()
    try:
        assert _refusal(zip_bytes) == ("ModelInvalid", catalogue.text("ModelInvalid", detail=detail))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20  # refused on the declared size, before the member is inflated


@pytest.mark.parametrize(
    ("raw", "manifest", "labels", "detail"),
    [
        (
            {"cvexport.manifest": b"[" * 60_000},
            None,
            "abc",
            "cvexport.manifest is not valid JSON (or is nested too deeply)",
        ),
        (
            {"metadata_properties.json": b"[" * 60_000},
            None,
            "abc",
            "metadata_properties.json is not valid JSON (or is nested too deeply)",
        ),
        (None, {"Platform": ["ONNX"]}, "abc", "cvexport.manifest has a Platform that is not a text value"),
        (
            None,
            {"DomainType": {"a": 1}},
            "abc",
            "cvexport.manifest has a DomainType that is not a text value",
        ),
        (
            {"metadata_properties.json": b'{"Image.BitmapPixelFormat": ["Rgb8"]}'},
            None,
            "abc",
            "metadata_properties.json has a value that is neither text nor a number",
        ),
        (None, None, ["apple", "pear", "apple"], "labels.txt lists one tag twice (lines 1 and 3)"),
        (None, None, ["Apple", "pear", "apple"], "labels.txt lists one tag twice (lines 1 and 3)"),
    ],
    ids=[
        "nested-manifest",
        "nested-metadata",
        "platform-list",
        "domain-object",
        "metadata-list",
        "dup",
        "case",
    ],
)
def test_malformed_members_are_catalogue_errors_without_reprs(raw, manifest, labels, detail):
    code, message = _refusal(portal_zip(_model(), labels, manifest=manifest, raw=raw))
    assert (code, message) == ("ModelInvalid", catalogue.text("ModelInvalid", detail=detail))
    assert "[" not in detail and "{" not in detail and "Error" not in message
