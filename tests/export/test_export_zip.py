"""localvision's ONNX export: the zip's layout, the fused graph per flavor, Microsoft's sample consumer."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import numpy as np
import onnx
import pytest

from localvision.ml import Featurizer, TrainedModel, prepare_image, train
from localvision.ml.export import ExportError, export_zip
from tests.export.conftest import FRUIT_TAGS, ITERATION_ID, Photo
from tests.export.sample_consumer import SampleConsumer
from tests.localvision_model.out_of_class import out_of_class_paths

pytestmark = pytest.mark.slow

EXPORTED_AT = datetime(2026, 11, 30, 12, 0, 5, 123456, tzinfo=UTC)


def _files(zip_bytes: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def onnx12_zip(fruit_model: TrainedModel, feature_graph: onnx.ModelProto) -> bytes:
    return export_zip(
        fruit_model,
        FRUIT_TAGS,
        iteration_id=ITERATION_ID,
        flavor="ONNX12",
        exported_at=EXPORTED_AT,
        features=feature_graph,
    )


def test_zip_has_the_service_layout(onnx12_zip: bytes) -> None:
    files = _files(onnx12_zip)
    assert sorted(files) == ["cvexport.manifest", "labels.txt", "metadata_properties.json", "model.onnx"]
    assert files["labels.txt"].decode() == "apple\nbanana\norange\n"
    assert json.loads(files["cvexport.manifest"]) == {
        "DomainType": "Classification",
        "Platform": "ONNX",
        "Flavor": "ONNX12",
        "ExporterVersion": "2.0",
        "ExportedDate": "2026-11-30T12:00:05.1234560Z",
        "IterationId": ITERATION_ID,
        "ModelFileName": "model.onnx",
        "LabelFileName": "labels.txt",
        "MetadataPropsFileName": "metadata_properties.json",
        "ModelFileSHA1": hashlib.sha1(files["model.onnx"]).hexdigest(),
        "SchemaVersion": "1.0",
    }
    metadata = json.loads(files["metadata_properties.json"])
    assert metadata["Image.BitmapPixelFormat"] == "Rgb8"
    assert metadata["Image.NominalPixelRange"] == "Normalized_0_1"
    assert metadata["CustomVision.Postprocess.Method"] == "ClassificationMultiClass"
    assert all(value is None or isinstance(value, str) for value in metadata.values())
    # The model declares the same preprocessing as the JSON file, in its own metadata_props.
    props = {p.key: p.value for p in onnx.load_from_string(files["model.onnx"]).metadata_props}
    assert props == {key: value for key, value in metadata.items() if value is not None}


@pytest.mark.parametrize(
    ("flavor", "opset", "ir_version", "element"),
    [
        (None, 17, 8, onnx.TensorProto.FLOAT),
        ("ONNX12", 7, 3, onnx.TensorProto.FLOAT),
        ("OnnxFloat16", 17, 8, onnx.TensorProto.FLOAT16),
    ],
)
def test_each_flavor_has_one_data_input_and_one_model_output(
    fruit_model: TrainedModel, feature_graph: onnx.ModelProto, flavor, opset, ir_version, element
) -> None:
    files = _files(
        export_zip(fruit_model, FRUIT_TAGS, iteration_id="i", flavor=flavor, features=feature_graph)
    )
    model = onnx.load_from_string(files["model.onnx"])
    assert [o.version for o in model.opset_import] == [opset] and model.ir_version == ir_version
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    assert [i.name for i in inputs] == ["data"]
    assert inputs[0].type.tensor_type.elem_type == element
    assert [d.dim_value for d in inputs[0].type.tensor_type.shape.dim] == [1, 3, 224, 224]
    assert [o.name for o in model.graph.output] == ["model_output"]
    assert model.graph.output[0].type.tensor_type.elem_type == element
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 3]
    assert json.loads(files["cvexport.manifest"])["Flavor"] == flavor


def test_float16_flavor_is_half_the_size(fruit_model: TrainedModel, feature_graph: onnx.ModelProto) -> None:
    full = _files(export_zip(fruit_model, FRUIT_TAGS, iteration_id="i", features=feature_graph))
    half = _files(
        export_zip(fruit_model, FRUIT_TAGS, iteration_id="i", flavor="OnnxFloat16", features=feature_graph)
    )
    assert len(half["model.onnx"]) < 0.55 * len(full["model.onnx"])


@pytest.mark.parametrize("flavor", [None, "ONNX12", "OnnxFloat16"])
def test_sample_consumer_agrees_with_localvision_on_all_54_photos(
    fruit_model: TrainedModel,
    feature_graph: onnx.ModelProto,
    featurizer: Featurizer,
    all_photos: list[Photo],
    flavor: str | None,
) -> None:
    """The bar: same top tag as localvision's classify on every photo, probabilities within 0.05."""
    assert len(all_photos) == 54
    consumer = SampleConsumer(
        export_zip(fruit_model, FRUIT_TAGS, iteration_id="i", flavor=flavor, features=feature_graph)
    )
    for photo in all_photos:
        # localvision's classify path: Engine.predict = prepare_image + TrainedModel.predict.
        own = fruit_model.predict(prepare_image(photo.data), featurizer)
        exported = consumer.probabilities(photo.path)
        assert consumer.labels[int(exported.argmax())] == FRUIT_TAGS[int(own.argmax())], photo.path.name
        np.testing.assert_allclose(exported, own, atol=0.05, err_msg=photo.path.name)
    test_photos = [photo for photo in all_photos if photo.path.parent.name == "test-images"]
    assert [consumer.top_tag(photo.path) for photo in test_photos] == ["apple", "banana", "orange"]


@pytest.mark.parametrize("flavor", [None, "ONNX12", "OnnxFloat16"])
def test_sample_consumer_agrees_with_localvision_on_the_out_of_class_photos(
    fruit_model: TrainedModel, feature_graph: onnx.ModelProto, featurizer: Featurizer, flavor: str | None
) -> None:
    """Microsoft's consumer reads the calibrated, open-set scaled output: low for what is not fruit.

    A blend of two fruit photos sits on the steep part of the known-ness curve, where the consumer's own
    resize (Pillow's default filter, not localvision's decoder) moves the features enough to move the
    probabilities by up to ~0.12; everything else agrees within 0.01.
    """
    consumer = SampleConsumer(
        export_zip(fruit_model, FRUIT_TAGS, iteration_id="i", flavor=flavor, features=feature_graph)
    )
    for path in out_of_class_paths():
        own = fruit_model.predict(prepare_image(path.read_bytes()), featurizer)
        exported = consumer.probabilities(path)
        blend = path.name.startswith("blend-")
        np.testing.assert_allclose(exported, own, atol=0.15 if blend else 0.01, err_msg=path.name)
        if not blend:
            assert exported.max() < 0.6, (path.name, exported)


def test_multilabel_export_ends_in_one_sigmoid_per_tag(
    training_photos: list[Photo],
    all_photos: list[Photo],
    featurizer: Featurizer,
    feature_graph: onnx.ModelProto,
) -> None:
    # A fourth tag "round" on every apple and orange: an image can carry two tags.
    tags = (*FRUIT_TAGS, "round")
    images = [prepare_image(photo.data) for photo in training_photos]
    labels = [[FRUIT_TAGS.index(p.tag), 3] if p.tag != "banana" else [1] for p in training_photos]
    model = train(images, labels, len(tags), True, featurizer, seed=0).model
    exported = export_zip(model, tags, iteration_id="i", features=feature_graph)
    consumer = SampleConsumer(exported)
    orange = next(p for p in all_photos if p.path.name == "IMG_TEST_3.jpg")
    probabilities = consumer.probabilities(orange.path)
    np.testing.assert_allclose(
        probabilities, model.predict(prepare_image(orange.data), featurizer), atol=0.05
    )
    assert probabilities[2] >= 0.5 and probabilities[3] >= 0.5  # orange and round: not a softmax
    assert probabilities.sum() > 1.5
    metadata = json.loads(_files(exported)["metadata_properties.json"])
    assert metadata["CustomVision.Postprocess.Method"] == "ClassificationMultiLabel"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"flavor": "ONNX10"},
            "ONNX flavor 'ONNX10' is not supported: use the default (no flavor) or ONNX12",
        ),
        ({"domain_type": "ObjectDetection"}, "ObjectDetection iterations cannot be exported"),
        ({"labels": ("apple", "banana")}, "2 labels for a model of 3 tags: give one name per tag"),
        ({"labels": ("apple", "ban\nana", "orange")}, "every tag name must be non-empty and on one line"),
    ],
)
def test_export_refusals_say_what_to_do(
    fruit_model: TrainedModel, feature_graph: onnx.ModelProto, kwargs: dict, message: str
) -> None:
    labels = kwargs.pop("labels", FRUIT_TAGS)
    with pytest.raises(ExportError) as refused:
        export_zip(fruit_model, labels, iteration_id="i", features=feature_graph, **kwargs)
    assert message in str(refused.value)
