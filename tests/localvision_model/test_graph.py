"""The ONNX graph built from the weights file is EfficientNet-Lite0: its ImageNet answers are right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from localvision.ml import Featurizer, prepare_image
from localvision.ml.cache import ensure_model
from localvision.ml.graph import build_graph
from localvision.ml.images import to_network_input
from localvision.ml.weights import load_state_dict, weights_path

# ImageNet class indices
GRANNY_SMITH, ORANGE, BANANA = 948, 950, 954


@pytest.fixture(scope="module")
def classifier() -> ort.InferenceSession:
    """The same graph plus EfficientNet-Lite0's own ImageNet classifier layer."""
    model = build_graph(load_state_dict(weights_path()), with_classifier=True)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _top1(session: ort.InferenceSession, folder: Path) -> list[int]:
    batch = np.stack([to_network_input(prepare_image(p.read_bytes())) for p in sorted(folder.glob("*.jpg"))])
    return session.run(["logits"], {"image": batch})[0].argmax(axis=1).tolist()


def test_imagenet_top1_on_fruit_photos(classifier: ort.InferenceSession, fruit_dir: Path) -> None:
    # Swish in place of ReLU6, a wrong input scale or a wrong layout make these fail (0/51 with swish).
    for folder in ("training-images", "more-training-images"):
        assert set(_top1(classifier, fruit_dir / folder / "banana")) == {BANANA}
        assert set(_top1(classifier, fruit_dir / folder / "orange")) == {ORANGE}
    apples = _top1(classifier, fruit_dir / "training-images" / "apple")
    apples += _top1(classifier, fruit_dir / "more-training-images" / "apple")
    # Red apples on a cloth: ImageNet's only apple class is Granny Smith; most photos get it.
    assert apples.count(GRANNY_SMITH) >= 0.75 * len(apples), apples


def test_served_graph_gives_the_checked_features(
    classifier: ort.InferenceSession, featurizer: Featurizer, fruit_dir: Path
) -> None:
    image = prepare_image((fruit_dir / "test-images" / "IMG_TEST_2.jpg").read_bytes())
    checked = classifier.run(["features"], {"image": to_network_input(image)[None]})[0]
    served = featurizer.embed([image])
    assert served.shape == (1, 1280) and served.dtype == np.float32
    np.testing.assert_allclose(served, checked, rtol=1e-4, atol=1e-5)
    # Mean of ReLU6 outputs: never negative, never above 6.
    assert served.min() >= 0.0 and served.max() <= 6.0


def test_strided_convolutions_pad_like_tensorflow_same(model_cache: Path) -> None:
    """TF "SAME": the extra row/column of an odd total padding goes at the end, not the start."""
    graph = onnx.load(ensure_model(model_cache)).graph
    convs = {node.input[1]: node for node in graph.node if node.op_type == "Conv"}

    def attrs(name: str) -> dict[str, list[int] | int]:
        return {a.name: onnx.helper.get_attribute_value(a) for a in convs[name].attribute}

    assert attrs("_conv_stem.w")["pads"] == [0, 0, 1, 1]  # 3x3 stride 2 on 224
    assert attrs("_blocks.3._depthwise_conv.w")["pads"] == [1, 1, 2, 2]  # 5x5 stride 2 on 56
    assert attrs("_blocks.4._depthwise_conv.w")["pads"] == [2, 2, 2, 2]  # 5x5 stride 1
    assert attrs("_blocks.6._depthwise_conv.w")["pads"] == [1, 1, 1, 1]  # 3x3 stride 1
    depthwise = attrs("_blocks.15._depthwise_conv.w")
    assert depthwise["group"] == 1152 and depthwise["strides"] == [1, 1]
