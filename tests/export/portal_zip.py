"""Zips in the real Custom Vision portal layout, built by hand around tiny ONNX graphs.

The graphs average each input channel (``ReduceMean`` over H and W), so what comes out shows exactly
what the consumer fed: which channel went where and in which range.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PORTAL_MANIFEST = {
    "DomainType": "Classification",
    "Platform": "ONNX",
    "Flavor": "ONNX12",
    "ExporterVersion": "2.0",
    "ExportedDate": "2021-01-27T19:07:10.6049017Z",
    "IterationId": "3d544838-88de-4561-9822-a3849df931f9",
    "ModelFileName": "model.onnx",
    "LabelFileName": "labels.txt",
    "MetadataPropsFileName": "metadata_properties.json",
    "SchemaVersion": "1.0",
}
PORTAL_METADATA = {
    "CustomVision.Metadata.AdditionalModelInfo": None,
    "CustomVision.Metadata.Version": "1.1",
    "CustomVision.Postprocess.Method": "ClassificationMultiClass",
    "CustomVision.Preprocess.CropMethod": "OneCropCenter",
    "CustomVision.Preprocess.ResizeMethod": "ByShorterSide",
    "CustomVision.Preprocess.TargetHeight": "256.0",
    "CustomVision.Preprocess.TargetWidth": "256.0",
    "CustomVision.Preprocess.CropHeight": "224.0",
    "CustomVision.Preprocess.CropWidth": "224.0",
    "Image.BitmapPixelFormat": "Rgb8",
    "Image.ColorSpaceGamma": "SRGB",
    "Image.NominalPixelRange": "Normalized_0_1",
}


def channel_means_model(
    metadata: dict[str, str | None],
    *,
    input_name: str = "data",
    input_shape: Sequence[int | str] = (1, 3, 224, 224),
    output_name: str = "model_output",
    divide_by: float = 1.0,
) -> onnx.ModelProto:
    """``output = mean of data over H, W / divide_by``: ``[1, 3]``, one value per input channel."""
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("Div", ["means", "divisor"], [output_name]),
    ]
    graph = helper.make_graph(
        nodes,
        "channel_means",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(np.array(divide_by, np.float32), "divisor")],
    )
    return _with_metadata(graph, metadata, [helper.make_opsetid("", 13)])


def reshaping_model(shape: Sequence[int]) -> onnx.ModelProto:
    """Channel means reshaped to ``shape`` at run time; the file declares ``model_output`` as ``[1, ?]``."""
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("Reshape", ["means", "shape"], ["model_output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "reshaping",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("model_output", TensorProto.FLOAT, [1, "tags"])],
        [numpy_helper.from_array(np.array(shape, np.int64), "shape")],
    )
    return _with_metadata(graph, {}, [helper.make_opsetid("", 13)])


def legacy_model(metadata: dict[str, str | None]) -> onnx.ModelProto:
    """Older exports' outputs: ``classLabel`` (string tensor) and ``loss`` (sequence of map tag -> p)."""
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("Softmax", ["means"], ["probabilities"], axis=1),
        helper.make_node(
            "ZipMap", ["probabilities"], ["loss"], domain="ai.onnx.ml", classlabels_strings=["a", "b", "c"]
        ),
        helper.make_node(
            "Constant", [], ["classLabel"], value=helper.make_tensor("label", TensorProto.STRING, [1], [b"a"])
        ),
    ]
    loss_type = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, []))
    )
    graph = helper.make_graph(
        nodes,
        "legacy",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 224, 224])],
        [
            helper.make_tensor_value_info("classLabel", TensorProto.STRING, [1]),
            helper.make_value_info("loss", loss_type),
        ],
    )
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)]
    return _with_metadata(graph, metadata, opsets)


def _with_metadata(
    graph: onnx.GraphProto, metadata: dict[str, str | None], opsets: list[onnx.OperatorSetIdProto]
) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=opsets, producer_name="test")
    model.ir_version = 8
    for key, value in metadata.items():
        if value is not None:
            model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    return model


def portal_zip(
    model: onnx.ModelProto | bytes,
    labels: Sequence[str],
    *,
    manifest: dict[str, object] | None = None,
    metadata: dict[str, str | None] | None = None,
    omit: Sequence[str] = (),
    sha1: str | None = None,
    raw: dict[str, bytes] | None = None,
) -> bytes:
    """The four files at the zip's root, the manifest carrying the model's SHA-1 (unless ``sha1`` says);
    ``raw`` replaces a file's bytes as given."""
    model_bytes = model if isinstance(model, bytes) else model.SerializeToString()
    files = {
        "model.onnx": model_bytes,
        "labels.txt": "\n".join(labels).encode(),
        "cvexport.manifest": json.dumps(
            {
                **PORTAL_MANIFEST,
                "ModelFileSHA1": sha1 or hashlib.sha1(model_bytes).hexdigest(),
                **(manifest or {}),
            }
        ).encode(),
        "metadata_properties.json": json.dumps(PORTAL_METADATA if metadata is None else metadata).encode(),
        **(raw or {}),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            if name not in omit:
                archive.writestr(name, data)
    return buffer.getvalue()
