"""Custom Vision's ONNX export of a trained iteration, as the zip the service lays out. No HTTP here.

The zip holds ``model.onnx`` (see ``export_graph``), ``labels.txt`` (one tag name a line, in the
output's order), ``cvexport.manifest`` (JSON, with the SHA-1 of ``model.onnx``) and
``metadata_properties.json`` (the same preprocessing keys as the model's ``metadata_props``).

Flavors: the default (opset 17), ``ONNX12`` (ONNX 1.2: opset 7, IR version 3, for older runtimes such
as Windows ML) and ``OnnxFloat16`` (the default with float16 input, weights and output).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime

import onnx

from localvision.ml.cache import ensure_model
from localvision.ml.export_graph import GraphFlavor, fused_model
from localvision.ml.graph import INPUT_SIZE
from localvision.ml.head import TrainedModel

PLATFORM = "ONNX"
FLAVORS: dict[str | None, GraphFlavor] = {
    None: GraphFlavor(opset=17, ir_version=8),
    "ONNX12": GraphFlavor(opset=7, ir_version=3),
    "OnnxFloat16": GraphFlavor(opset=17, ir_version=8, float16=True),
}
MODEL_FILE = "model.onnx"
LABEL_FILE = "labels.txt"
MANIFEST_FILE = "cvexport.manifest"
METADATA_FILE = "metadata_properties.json"
EXPORTER_VERSION = "2.0"
SCHEMA_VERSION = "1.0"


class ExportError(ValueError):
    """The iteration cannot be exported as asked; the message says why and what to do."""


def supported_flavors() -> list[str | None]:
    """The ONNX flavors this exporter writes (None: the default)."""
    return list(FLAVORS)


def metadata_properties(multilabel: bool) -> dict[str, str | None]:
    """What a consumer must know to feed the model: plain resize to 224 x 224, RGB, values 0..1.

    The ``Image.*`` keys are the ones Microsoft's sample consumer reads. The ``CustomVision.Preprocess.*``
    keys follow the service's file; they describe the whole image resized to the input size, no crop.
    """
    size = f"{float(INPUT_SIZE)}"
    return {
        "CustomVision.Metadata.AdditionalModelInfo": None,
        "CustomVision.Metadata.Version": "1.1",
        "CustomVision.Postprocess.Method": (
            "ClassificationMultiLabel" if multilabel else "ClassificationMultiClass"
        ),
        "CustomVision.Postprocess.Yolo.Biases": "[]",
        "CustomVision.Postprocess.Yolo.NmsThreshold": "0.0",
        "CustomVision.Preprocess.CropHeight": size,
        "CustomVision.Preprocess.CropMethod": "NoCrop",
        "CustomVision.Preprocess.CropWidth": size,
        "CustomVision.Preprocess.MaxDimension": "0",
        "CustomVision.Preprocess.MaxScale": "0",
        "CustomVision.Preprocess.MinDimension": "0",
        "CustomVision.Preprocess.MinScale": "0",
        "CustomVision.Preprocess.NormalizeMean": "[0.0, 0.0, 0.0]",
        "CustomVision.Preprocess.NormalizeStd": "[1.0, 1.0, 1.0]",
        "CustomVision.Preprocess.ResizeMethod": "Stretch",
        "CustomVision.Preprocess.TargetHeight": size,
        "CustomVision.Preprocess.TargetWidth": size,
        "Image.BitmapPixelFormat": "Rgb8",
        "Image.ColorSpaceGamma": "SRGB",
        "Image.NominalPixelRange": "Normalized_0_1",
    }


def export_model(
    head: TrainedModel, flavor: str | None = None, *, features: onnx.ModelProto | None = None
) -> onnx.ModelProto:
    """The fused ONNX model with its ``metadata_props``; ``features`` defaults to the cached feature graph."""
    if flavor not in FLAVORS:
        names = ", ".join(name for name in FLAVORS if name)
        raise ExportError(f"ONNX flavor {flavor!r} is not supported: use the default (no flavor) or {names}")
    if features is None:
        features = onnx.load(ensure_model())
    model = fused_model(features, head, FLAVORS[flavor])
    for key, value in metadata_properties(head.multilabel).items():
        if value is not None:
            model.metadata_props.add(key=key, value=value)
    return model


def export_zip(
    head: TrainedModel,
    labels: Sequence[str],
    *,
    iteration_id: str,
    flavor: str | None = None,
    domain_type: str = "Classification",
    exported_at: datetime | None = None,
    features: onnx.ModelProto | None = None,
) -> bytes:
    """The export zip of a trained classification iteration: ``labels[i]`` names the head's tag i."""
    if domain_type != "Classification":
        raise ExportError(f"{domain_type} iterations cannot be exported: only Classification is supported")
    if len(labels) != head.num_tags:
        raise ExportError(f"{len(labels)} labels for a model of {head.num_tags} tags: give one name per tag")
    if any(not name or "\n" in name or "\r" in name for name in labels):
        raise ExportError("every tag name must be non-empty and on one line to be written to labels.txt")
    model_bytes = export_model(head, flavor, features=features).SerializeToString()
    when = exported_at or datetime.now(UTC)
    manifest = {
        "DomainType": domain_type,
        "Platform": PLATFORM,
        "Flavor": flavor,
        "ExporterVersion": EXPORTER_VERSION,
        "ExportedDate": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
        "IterationId": iteration_id,
        "ModelFileName": MODEL_FILE,
        "LabelFileName": LABEL_FILE,
        "MetadataPropsFileName": METADATA_FILE,
        "ModelFileSHA1": hashlib.sha1(model_bytes).hexdigest(),
        "SchemaVersion": SCHEMA_VERSION,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MODEL_FILE, model_bytes)
        archive.writestr(LABEL_FILE, "".join(f"{name}\n" for name in labels))
        archive.writestr(MANIFEST_FILE, json.dumps(manifest))
        archive.writestr(METADATA_FILE, json.dumps(metadata_properties(head.multilabel)))
    return buffer.getvalue()
