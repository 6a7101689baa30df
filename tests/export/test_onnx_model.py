"""The pipeline's in-process classifier: localvision's export, a zip in the portal's layout, bad zips."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from localvision.ml import Featurizer, TrainedModel, prepare_image
from shared import catalogue
from shared.errors import PermanentError
from shared.onnx.model import ModelError, OnnxClassifier
from tests.export.conftest import FRUIT_TAGS, ITERATION_ID, TEST_PHOTOS, Photo
from tests.export.portal_zip import (
    PORTAL_METADATA,
    channel_means_model,
    legacy_model,
    portal_zip,
    reshaping_model,
)
from tests.localvision_model.out_of_class import out_of_class_paths

RGB_0_1 = {"Image.BitmapPixelFormat": "Rgb8", "Image.NominalPixelRange": "Normalized_0_1"}
BGR_0_255 = {"Image.BitmapPixelFormat": "Bgr8", "Image.NominalPixelRange": "NominalRange_0_255"}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _refused(zip_bytes: bytes) -> ModelError:
    with pytest.raises(ModelError) as refused:
        OnnxClassifier.load(zip_bytes)
    return refused.value


@pytest.mark.slow
def test_localvision_export_classifies_the_fruit_test_photos(
    fruit_zip: bytes, all_photos: list[Photo]
) -> None:
    classifier = OnnxClassifier.load(fruit_zip)
    assert classifier.info.labels == FRUIT_TAGS and classifier.info.iteration_id == ITERATION_ID
    for photo in (p for p in all_photos if p.path.name in TEST_PHOTOS):
        predictions = classifier.predict(photo.data)
        assert predictions[0][0] == photo.tag, predictions
        assert predictions[0][1] >= 0.9, predictions
        assert sorted(tag for tag, _ in predictions) == sorted(FRUIT_TAGS)
        probabilities = [p for _, p in predictions]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0.99 <= sum(probabilities) <= 1.0 + 1e-5  # a softmax times the known-ness, ~1 for fruit


@pytest.mark.slow
def test_in_process_classifier_agrees_with_localvision_on_all_54_photos(
    fruit_zip: bytes, fruit_model: TrainedModel, featurizer: Featurizer, all_photos: list[Photo]
) -> None:
    classifier = OnnxClassifier.load(fruit_zip)
    for photo in all_photos:
        own = fruit_model.predict(prepare_image(photo.data), featurizer)
        predictions = dict(classifier.predict(photo.data))
        exported = np.array([predictions[tag] for tag in FRUIT_TAGS])
        assert exported.argmax() == own.argmax(), photo.path.name
        np.testing.assert_allclose(exported, own, atol=0.01, err_msg=photo.path.name)


@pytest.mark.slow
def test_in_process_classifier_agrees_with_localvision_on_every_out_of_class_photo(
    fruit_zip: bytes, fruit_model: TrainedModel, featurizer: Featurizer
) -> None:
    """The export carries the calibration and the open-set score: onnx mode sends the same photos to
    review as localvision, with the same probabilities."""
    classifier = OnnxClassifier.load(fruit_zip)
    worst = 0.0
    for path in out_of_class_paths():
        own = fruit_model.predict(prepare_image(path.read_bytes()), featurizer)
        predictions = dict(classifier.predict(path.read_bytes()))
        exported = np.array([predictions[tag] for tag in FRUIT_TAGS])
        np.testing.assert_allclose(exported, own, atol=0.01, err_msg=path.name)
        worst = max(worst, float(np.abs(exported - own).max()))
        if not path.name.startswith("blend-"):
            assert exported.max() < 0.6 and own.max() < 0.6, (path.name, exported, own)
    assert worst <= 0.01


def test_portal_zip_is_preprocessed_as_its_metadata_says() -> None:
    """ByShorterSide 256 then OneCropCenter 224: of a red | green | blue strip only the green middle stays."""
    strip = Image.new("RGB", (600, 200), (255, 0, 0))
    strip.paste((0, 255, 0), (200, 0, 400, 200))
    strip.paste((0, 0, 255), (400, 0, 600, 200))
    classifier = OnnxClassifier.load(
        portal_zip(channel_means_model(PORTAL_METADATA), ["red", "green", "blue"])
    )
    assert classifier.info.iteration_id == "3d544838-88de-4561-9822-a3849df931f9"
    assert classifier.info.flavor == "ONNX12"
    predictions = classifier.predict(_png(strip))
    assert [tag for tag, _ in predictions] == ["green", "red", "blue"]
    assert predictions[0][1] == pytest.approx(1.0, abs=1e-6)
    assert predictions[1][1] == pytest.approx(0.0, abs=1e-6) and predictions[2][1] == pytest.approx(
        0.0, abs=1e-6
    )


def test_plain_resize_bgr_and_0_255_from_the_models_own_metadata() -> None:
    """No crop keys: the whole image is resized. Bgr8 reverses channels; NominalRange_0_255 keeps 0..255."""
    model = channel_means_model(BGR_0_255, divide_by=255.0)
    classifier = OnnxClassifier.load(
        portal_zip(model, ["first", "second", "third"], metadata={}, omit=["metadata_properties.json"])
    )
    half = Image.new("RGB", (300, 100), (255, 0, 0))  # left half red, right half blue: no crop keeps both
    half.paste((0, 0, 255), (150, 0, 300, 100))
    predictions = dict(classifier.predict(_png(half)))
    assert predictions["first"] == pytest.approx(0.5, abs=0.01)  # blue, fed first
    assert predictions["second"] == pytest.approx(0.0, abs=1e-6)
    assert predictions["third"] == pytest.approx(0.5, abs=0.01)  # red, fed last
    red = classifier.predict(_png(Image.new("RGB", (40, 30), (255, 0, 0))))
    assert red == [("third", pytest.approx(1.0)), ("first", 0.0), ("second", 0.0)]  # ties in labels.txt order


def test_rgb_0_1_transparency_on_white_and_exif_orientation() -> None:
    classifier = OnnxClassifier.load(portal_zip(channel_means_model(RGB_0_1), ["r", "g", "b"], metadata={}))
    transparent = Image.new("RGBA", (64, 64), (0, 0, 255, 0))
    assert dict(classifier.predict(_png(transparent))) == pytest.approx({"r": 1.0, "g": 1.0, "b": 1.0})
    # A JPEG stored sideways: its left half white; EXIF says turn it 90 degrees clockwise to display.
    stored = Image.new("RGB", (200, 100), (0, 0, 0))
    stored.paste((255, 255, 255), (0, 0, 100, 100))
    exif = stored.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif, quality=95)
    upright = classifier.preprocessing.decode(buffer.getvalue())
    assert upright.size == (100, 200)
    assert min(upright.getpixel((50, 20))) > 240 and max(upright.getpixel((50, 180))) < 15  # white on top


def _model_bytes(**kwargs) -> bytes:
    return channel_means_model(RGB_0_1, **kwargs).SerializeToString()


@pytest.mark.parametrize(
    ("zip_bytes", "code", "detail"),
    [
        pytest.param(
            b"PK\x03\x04 not really", "ModelInvalid", "the file is not a zip archive", id="not-a-zip"
        ),
        pytest.param(
            portal_zip(_model_bytes(), "abc", omit=["cvexport.manifest"]),
            "ModelInvalid",
            "the zip has no cvexport.manifest at its root",
            id="no-manifest",
        ),
        pytest.param(
            portal_zip(_model_bytes(), "abc", omit=["labels.txt"]),
            "ModelInvalid",
            "the zip has no labels.txt at its root",
            id="no-labels",
        ),
        pytest.param(
            portal_zip(_model_bytes(), "abc", manifest={"Platform": "TensorFlow"}),
            "ModelInvalid",
            "it was exported for the platform TensorFlow, not ONNX",
            id="other-platform",
        ),
        pytest.param(
            portal_zip(_model_bytes(), "abc", sha1="0" * 40),
            "ModelChecksumMismatch",
            f"model.onnx has SHA-1 {hashlib.sha1(_model_bytes()).hexdigest()} "
            f"but cvexport.manifest says {'0' * 40}",
            id="sha1-mismatch",
        ),
        pytest.param(
            portal_zip(b"not a protobuf at all", "abc"),
            "ModelInvalid",
            "onnxruntime cannot load model.onnx (not a valid ONNX model, or an unknown operator)",
            id="not-onnx",
        ),
        pytest.param(
            portal_zip(_model_bytes(input_name="image"), "abc"),
            "ModelInputUnsupported",
            "the model's inputs are image",
            id="input-name",
        ),
        pytest.param(
            portal_zip(_model_bytes(input_shape=(1, 3, "height", "width")), "abc"),
            "ModelInputUnsupported",
            "data is shaped [1, 3, ?, ?]",
            id="input-shape",
        ),
        pytest.param(
            portal_zip(_model_bytes(), ["a", "b", "c", "d"]),
            "ModelOutputUnsupported",
            "model_output is shaped [1, 3] but labels.txt lists 4 tags",
            id="output-count",
        ),
        pytest.param(
            portal_zip(reshaping_model([1, 4]), "abcd"),
            "ModelInvalid",
            "model.onnx fails when run on a test image",
            id="fails-on-run",
        ),
        pytest.param(
            portal_zip(reshaping_model([1, 3, 1]), "abc"),
            "ModelOutputUnsupported",
            "model_output came out shaped [1, 3, 1], not [1, 3]",
            id="symbolic-output-runs-wrong",
        ),
        pytest.param(
            portal_zip(_model_bytes(output_name="scores"), "abc"),
            "ModelOutputUnsupported",
            "the model's outputs are scores",
            id="output-name",
        ),
        pytest.param(
            portal_zip(legacy_model(RGB_0_1), "abc"),
            "ModelOutputUnsupported",
            "it has the outputs classLabel and loss of an older Custom Vision export, not model_output",
            id="legacy-loss-classLabel",
        ),
        pytest.param(
            portal_zip(channel_means_model({"Image.BitmapPixelFormat": "Rgba8"}), "abc"),
            "ModelInputUnsupported",
            "Image.BitmapPixelFormat is Rgba8; the pipeline feeds Rgb8 or Bgr8",
            id="pixel-format",
        ),
    ],
)
def test_bad_zips_are_refused_with_a_catalogue_error(zip_bytes: bytes, code: str, detail: str) -> None:
    error = _refused(zip_bytes)
    assert (error.code, error.message) == (code, catalogue.text(code, detail=detail))
    assert "Traceback" not in error.message and "Error" not in error.message


def test_unreadable_image_is_refused_not_crashed() -> None:
    classifier = OnnxClassifier.load(portal_zip(channel_means_model(RGB_0_1), "abc"))
    with pytest.raises(PermanentError) as refused:
        classifier.predict(b"this is not an image")
    assert (refused.value.code, refused.value.message) == ("NotAnImage", catalogue.text("NotAnImage"))
