"""Build the EfficientNet-Lite0 ONNX graph straight from the state dict, with the ``onnx`` helper API.

The weights follow the layout of the lukemelas/EfficientNet-PyTorch family (``_conv_stem``,
``_blocks.N._expand_conv`` ...), as adapted for the Lite variants. Lite0 differs from B0: ReLU6
instead of swish, no squeeze-and-excitation, stem and head not scaled. Convolutions use TensorFlow's
static "SAME" padding (the extra row/column of an odd total goes at the end) because the weights were
trained in TensorFlow. Batch norms (eps 1e-3) are folded into the convolutions.

The graph takes ``image``: uint8 ``[N, 224, 224, 3]`` RGB and scales it as ``(x - 127) / 128``
itself; it outputs ``features`` ``[N, 1280]`` (global average of the last ReLU6 activation) and,
when asked, ``logits`` ``[N, 1000]`` from the ImageNet classifier (used to check the graph).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_SIZE = 224
FEATURE_DIM = 1280
OPSET = 17
BN_EPS = 1e-3
# Per stage: (repeats, stride of its first block), from EfficientNet-Lite0's block arguments. Kernel
# sizes and channel counts are read from the weights; strides are not in them.
STAGES = ((1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1))


@dataclass
class _Builder:
    weights: dict[str, np.ndarray]
    nodes: list[onnx.NodeProto]
    initializers: list[onnx.TensorProto]

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def conv_bn(self, x: str, conv: str, bn: str, size: int, stride: int, relu6: bool) -> tuple[str, int]:
        """Conv (BN folded in) with static SAME padding, optionally ReLU6. Returns (output, size)."""
        weight = self.weights[f"{conv}.weight"].astype(np.float64)
        out_ch, _, kernel, _ = weight.shape
        scale = self.weights[f"{bn}.weight"] / np.sqrt(self.weights[f"{bn}.running_var"] + BN_EPS)
        bias = self.weights[f"{bn}.bias"] - self.weights[f"{bn}.running_mean"] * scale
        folded = (weight * scale[:, None, None, None]).astype(np.float32)
        out_size = math.ceil(size / stride)
        pad = max((out_size - 1) * stride + kernel - size, 0)
        groups = out_ch if conv.endswith("_depthwise_conv") else 1
        y = f"{conv}.out"
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, self.const(f"{conv}.w", folded), self.const(f"{conv}.b", bias.astype(np.float32))],
                [y],
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                pads=[pad // 2, pad // 2, pad - pad // 2, pad - pad // 2],
                group=groups,
            )
        )
        if relu6:
            y = self.relu6(y, f"{conv}.relu6")
        return y, out_size

    def relu6(self, x: str, name: str) -> str:
        self.nodes.append(helper.make_node("Clip", [x, "zero", "six"], [name]))
        return name

    def block(self, x: str, index: int, size: int, stride: int) -> tuple[str, int]:
        prefix = f"_blocks.{index}"
        h = x
        if f"{prefix}._expand_conv.weight" in self.weights:
            h, _ = self.conv_bn(h, f"{prefix}._expand_conv", f"{prefix}._bn0", size, 1, relu6=True)
        h, out_size = self.conv_bn(h, f"{prefix}._depthwise_conv", f"{prefix}._bn1", size, stride, relu6=True)
        h, _ = self.conv_bn(h, f"{prefix}._project_conv", f"{prefix}._bn2", out_size, 1, relu6=False)
        in_ch = self._in_channels(prefix)
        out_ch = self.weights[f"{prefix}._project_conv.weight"].shape[0]
        if stride == 1 and in_ch == out_ch:
            y = f"{prefix}.residual"
            self.nodes.append(helper.make_node("Add", [h, x], [y]))
            h = y
        return h, out_size

    def _in_channels(self, prefix: str) -> int:
        if f"{prefix}._expand_conv.weight" in self.weights:
            return self.weights[f"{prefix}._expand_conv.weight"].shape[1]
        return self.weights[f"{prefix}._depthwise_conv.weight"].shape[0]


def _block_strides() -> list[int]:
    strides: list[int] = []
    for repeats, stride in STAGES:
        strides += [stride] + [1] * (repeats - 1)
    return strides


def build_graph(weights: dict[str, np.ndarray], with_classifier: bool = False) -> onnx.ModelProto:
    """The EfficientNet-Lite0 feature extractor (and optionally the ImageNet classifier) as ONNX."""
    strides = _block_strides()
    blocks = {int(k.split(".")[1]) for k in weights if k.startswith("_blocks.")}
    if blocks != set(range(len(strides))):
        raise ValueError(f"weights do not have EfficientNet-Lite0's {len(strides)} blocks")
    b = _Builder(weights, [], [])
    b.const("zero", np.array(0.0, np.float32))
    b.const("six", np.array(6.0, np.float32))
    b.nodes += [
        helper.make_node("Cast", ["image"], ["image.f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["image.f", b.const("mean", np.array(127.0, np.float32))], ["image.c"]),
        helper.make_node("Mul", ["image.c", b.const("inv_std", np.array(1 / 128, np.float32))], ["image.s"]),
        helper.make_node("Transpose", ["image.s"], ["image.nchw"], perm=[0, 3, 1, 2]),
    ]
    x, size = b.conv_bn("image.nchw", "_conv_stem", "_bn0", INPUT_SIZE, 2, relu6=True)
    for index, stride in enumerate(strides):
        x, size = b.block(x, index, size, stride)
    x, _ = b.conv_bn(x, "_conv_head", "_bn1", size, 1, relu6=True)
    b.nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
    ]
    outputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", FEATURE_DIM])]
    if with_classifier:
        fc_w = b.const("fc.w", weights["_fc.weight"].astype(np.float32))
        fc_b = b.const("fc.b", weights["_fc.bias"].astype(np.float32))
        b.nodes.append(helper.make_node("Gemm", ["features", fc_w, fc_b], ["logits"], transB=1))
        num_classes = weights["_fc.weight"].shape[0]
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", num_classes]))
    graph = helper.make_graph(
        b.nodes,
        "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", INPUT_SIZE, INPUT_SIZE, 3])],
        outputs,
        b.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="localvision"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
