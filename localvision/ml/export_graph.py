"""One ONNX graph for an export: the EfficientNet-Lite0 features and a trained head, fused.

The feature graph (see ``graph``) takes uint8 NHWC RGB and scales it as ``(x - 127) / 128``. The
exported graph instead takes what Custom Vision's exports take: one float NCHW input ``data``
``[1, 3, 224, 224]``, RGB in 0..1 (declared in ``metadata_props`` as ``Rgb8`` / ``Normalized_0_1``),
and does the scaling itself as ``data * 255/128 - 127/128``. The head standardises the 1280 features,
applies the logistic weights, divides the logits by the fitted temperature and ends in a softmax
(Multiclass) or a sigmoid per tag (Multilabel), multiplied by the open-set known-ness (the features
scaled to length 1, their highest cosine similarity to the stored training views, through the fitted
sigmoid; see ``openset``): the output ``model_output`` ``[1, N]`` holds the probabilities localvision
returns, in the head's tag order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from localvision.ml.graph import INPUT_SIZE
from localvision.ml.head import TrainedModel
from localvision.ml.openset import OpenSet

INPUT_NAME = "data"
OUTPUT_NAME = "model_output"
# The feature graph's own front: uint8 NHWC -> scaled float NCHW; replaced by the export's front.
_FEATURE_FRONT = ("image.f", "image.c", "image.s", "image.nchw")
_FEATURE_FRONT_CONSTANTS = ("mean", "inv_std")
_FEATURES = "features"


@dataclass(frozen=True)
class GraphFlavor:
    """How the graph is written: operator set, file format version, element type of input and output."""

    opset: int
    ir_version: int
    float16: bool = False


def fused_model(features: onnx.ModelProto, head: TrainedModel, flavor: GraphFlavor) -> onnx.ModelProto:
    """The feature graph ``features`` (as ``graph.build_graph`` makes it) with ``head`` on top."""
    source = features.graph
    fronts = [node for node in source.node if set(node.output) & set(_FEATURE_FRONT)]
    if len(fronts) != len(_FEATURE_FRONT) or _FEATURES not in {o.name for o in source.output}:
        raise ValueError("the feature graph does not have the expected input stage and features output")
    body = [node for node in source.node if node not in fronts]
    initializers = [t for t in source.initializer if t.name not in _FEATURE_FRONT_CONSTANTS]
    nodes = [*_front(initializers, flavor), *(_body_node(node, flavor) for node in body)]
    nodes += _head(initializers, head)
    if flavor.opset < 11:  # Clip's bounds became inputs in opset 11; before, attributes
        initializers = [t for t in initializers if t.name not in ("zero", "six")]
    if flavor.float16:
        element = TensorProto.FLOAT16
        initializers, casts = _stored_as_float16(initializers)
        nodes = [*casts, *nodes, helper.make_node("Cast", ["head.p"], [OUTPUT_NAME], to=element)]
    else:
        element = TensorProto.FLOAT
        nodes.append(helper.make_node("Identity", ["head.p"], [OUTPUT_NAME]))
    inputs = [helper.make_tensor_value_info(INPUT_NAME, element, [1, 3, INPUT_SIZE, INPUT_SIZE])]
    if flavor.ir_version < 4:  # before IR 4 every initializer is also declared as a graph input
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in initializers]
    graph = helper.make_graph(
        nodes,
        "customvision_classifier",
        inputs,
        [helper.make_tensor_value_info(OUTPUT_NAME, element, [1, head.num_tags])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", flavor.opset)], producer_name="localvision"
    )
    model.ir_version = flavor.ir_version
    onnx.checker.check_model(model)
    return model


def _const(initializers: list[onnx.TensorProto], name: str, value: np.ndarray) -> str:
    initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
    return name


def _front(initializers: list[onnx.TensorProto], flavor: GraphFlavor) -> list[onnx.NodeProto]:
    """``data`` (0..1) -> ``image.nchw`` scaled as the feature graph expects: ``(255 x - 127) / 128``."""
    source = INPUT_NAME
    nodes = []
    if flavor.float16:
        nodes.append(helper.make_node("Cast", [INPUT_NAME], ["data.f32"], to=TensorProto.FLOAT))
        source = "data.f32"
    gain = _const(initializers, "front.gain", np.array(255.0 / 128.0))
    offset = _const(initializers, "front.offset", np.array(-127.0 / 128.0))
    nodes += [
        helper.make_node("Mul", [source, gain], ["front.scaled"]),
        helper.make_node("Add", ["front.scaled", offset], ["image.nchw"]),
    ]
    return nodes


def _body_node(node: onnx.NodeProto, flavor: GraphFlavor) -> onnx.NodeProto:
    if node.op_type == "Clip" and flavor.opset < 11:
        return helper.make_node("Clip", [node.input[0]], list(node.output), min=0.0, max=6.0)
    return node


def _head(initializers: list[onnx.TensorProto], head: TrainedModel) -> list[onnx.NodeProto]:
    """features -> standardised -> logits -> probabilities ``head.p`` (softmax or sigmoid)."""
    nodes = [
        helper.make_node("Sub", [_FEATURES, _const(initializers, "head.mean", head.mean)], ["head.centred"]),
        helper.make_node("Div", ["head.centred", _const(initializers, "head.scale", head.scale)], ["head.z"]),
        helper.make_node(
            "Gemm",
            [
                "head.z",
                _const(initializers, "head.coef", head.coef),
                _const(initializers, "head.b", head.intercept),
            ],
            ["head.logits"],
            transB=1,
        ),
    ]
    inverse = _const(initializers, "head.inverse_temperature", np.array(1.0 / head.temperature))
    nodes.append(helper.make_node("Mul", ["head.logits", inverse], ["head.scaled"]))
    calibrated = "head.calibrated" if head.openset is not None else "head.p"
    if head.multilabel:
        nodes.append(helper.make_node("Sigmoid", ["head.scaled"], [calibrated]))
    else:
        nodes.append(helper.make_node("Softmax", ["head.scaled"], [calibrated], axis=1))
    if head.openset is not None:
        nodes += _knownness(initializers, head.openset)
        nodes.append(helper.make_node("Mul", [calibrated, "open.k"], ["head.p"]))
    return nodes


def _knownness(initializers: list[onnx.TensorProto], openset: OpenSet) -> list[onnx.NodeProto]:
    """features -> ``open.k`` ``[1, 1]``: sigmoid(gain x nearest cosine similarity + bias)."""
    gain, bias = openset.gain_bias()
    return [
        # Reduce* take their axes as an attribute in opsets 7 to 17 alike
        helper.make_node("ReduceSumSquare", [_FEATURES], ["open.sq"], axes=[1], keepdims=1),
        helper.make_node("Add", ["open.sq", _const(initializers, "open.eps", np.array(1e-12))], ["open.sq+"]),
        helper.make_node("Sqrt", ["open.sq+"], ["open.norm"]),
        helper.make_node("Div", [_FEATURES, "open.norm"], ["open.unit"]),
        helper.make_node(
            "MatMul", ["open.unit", _const(initializers, "open.bank", openset.bank.T)], ["open.sim"]
        ),
        helper.make_node("ReduceMax", ["open.sim"], ["open.nearest"], axes=[1], keepdims=1),
        helper.make_node(
            "Mul", ["open.nearest", _const(initializers, "open.gain", np.array(gain))], ["open.g"]
        ),
        helper.make_node("Add", ["open.g", _const(initializers, "open.bias", np.array(bias))], ["open.z"]),
        helper.make_node("Sigmoid", ["open.z"], ["open.k"]),
    ]


def _stored_as_float16(
    initializers: list[onnx.TensorProto],
) -> tuple[list[onnx.TensorProto], list[onnx.NodeProto]]:
    """Float weights stored as float16 (half the file), each cast back to float32 for the arithmetic."""
    stored, casts = [], []
    for tensor in initializers:
        if tensor.data_type != TensorProto.FLOAT:
            stored.append(tensor)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), f"{tensor.name}.f16")
        stored.append(half)
        casts.append(helper.make_node("Cast", [half.name], [tensor.name], to=TensorProto.FLOAT))
    return stored, casts
