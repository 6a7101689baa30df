"""The pipeline's in-process classifier: a Custom Vision ONNX export, checked once, then run per image.

``OnnxClassifier.load(zip_bytes)`` refuses anything it could not classify with right (``ModelError``
with one of the catalogue's ``Model*`` codes): a zip without ``cvexport.manifest``, a model whose SHA-1
differs from the manifest's, an input other than one float ``data`` ``[1, 3, H, W]`` (H and W within
Custom Vision's bounds), an output other than
``model_output`` ``[1, N]`` with N the number of labels (older exports' ``loss`` / ``classLabel``
outputs included). ``predict`` answers ``(tagName, probability)`` pairs, most probable first, like the
service's predictions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from PIL import Image

from shared.onnx.package import ExportPackage, ModelError, read_package
from shared.onnx.preprocess import Preprocessing

__all__ = ["ModelError", "ModelInfo", "OnnxClassifier"]

INPUT_NAME = "data"
OUTPUT_NAME = "model_output"
LEGACY_OUTPUTS = ("classLabel", "loss")
_ELEMENT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
# Custom Vision's compact classification exports take 224 x 224 (its detection exports at most 512 x 512);
# a side outside these bounds is refused before any buffer of that size is made (a forged 60000 x 60000
# input would need tens of gigabytes; 8000 x 8000 would feed every image at that size).
MIN_INPUT_SIDE = 32
MAX_INPUT_SIDE = 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """What the zip says about the model, for result documents and logs."""

    iteration_id: str | None
    flavor: str | None
    sha1: str
    labels: tuple[str, ...]
    height: int
    width: int


class OnnxClassifier:
    """One checked model and its onnxruntime session; ``predict`` may be called from several threads."""

    def __init__(self, session: ort.InferenceSession, info: ModelInfo, preprocessing: Preprocessing) -> None:
        self._session = session
        self.info = info
        self.preprocessing = preprocessing

    @classmethod
    def load(cls, zip_bytes: bytes, *, threads: int = 1) -> OnnxClassifier:
        """Check the export zip and open its model; ModelError with a catalogue code if it cannot be used."""
        package = read_package(zip_bytes)
        session = _session(package.model, threads)
        height, width, dtype = _check_input(session)
        _check_outputs(session, len(package.labels))
        metadata = {**package.metadata, **session.get_modelmeta().custom_metadata_map}
        preprocessing = Preprocessing.from_metadata(height, width, dtype, metadata)
        classifier = cls(session, _info(package, height, width), preprocessing)
        classifier._check_run()
        return classifier

    def predict(self, data: bytes) -> list[tuple[str, float]]:
        """Tag probabilities of the image ``data``, most probable first (PermanentError NotAnImage if
        unreadable)."""
        return self.predict_image(self.preprocessing.decode(data))

    def predict_image(self, image: Image.Image) -> list[tuple[str, float]]:
        probabilities = self.probabilities(self.preprocessing.input_array(image))
        order = np.argsort(-probabilities, kind="stable")
        return [(self.info.labels[i], float(probabilities[i])) for i in order]

    def probabilities(self, data: np.ndarray) -> np.ndarray:
        """The bare model: ``model_output`` for a prepared ``data`` array, in labels.txt order."""
        return self._session.run([OUTPUT_NAME], {INPUT_NAME: data})[0].reshape(-1).astype(np.float32)

    def _check_run(self) -> None:
        """One run on a grey image: the output really is ``[1, N]`` (shapes may be symbolic in the file)."""
        blank = Image.new("RGB", (self.info.width, self.info.height), (128, 128, 128))
        try:
            output = self._session.run([OUTPUT_NAME], {INPUT_NAME: self.preprocessing.input_array(blank)})[0]
        except Exception:  # onnxruntime's own error classes: a graph that loads but cannot run
            log.warning("the model fails on a test image", exc_info=True)
            raise ModelError("ModelInvalid", "model.onnx fails when run on a test image") from None
        if tuple(output.shape) != (1, len(self.info.labels)):
            raise ModelError(
                "ModelOutputUnsupported",
                f"model_output came out shaped {list(output.shape)}, not [1, {len(self.info.labels)}]",
            )


def _session(model: bytes, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle worker threads would otherwise spin after each run, taking CPU from the rest of the host.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...) for a bad model
        log.warning("onnxruntime cannot load the model", exc_info=True)
        raise ModelError(
            "ModelInvalid",
            "onnxruntime cannot load model.onnx (not a valid ONNX model, or an unknown operator)",
        ) from None


def _check_input(session: ort.InferenceSession) -> tuple[int, int, type]:
    inputs = session.get_inputs()
    names = ", ".join(i.name for i in inputs) or "none"
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        raise ModelError("ModelInputUnsupported", f"the model's inputs are {names}")
    shape, element = list(inputs[0].shape), inputs[0].type
    if element not in _ELEMENT_TYPES:
        raise ModelError("ModelInputUnsupported", f"data holds {element}, not float")
    fixed = len(shape) == 4 and _batch_of_one(shape[0]) and shape[1] == 3
    if not fixed or not all(isinstance(d, int) and d > 0 for d in shape[2:]):
        raise ModelError("ModelInputUnsupported", f"data is shaped {_shape_text(shape)}")
    if not all(MIN_INPUT_SIDE <= side <= MAX_INPUT_SIDE for side in shape[2:]):
        raise ModelError(
            "ModelInputUnsupported",
            f"data is shaped {_shape_text(shape)}, and Custom Vision's exports take {MIN_INPUT_SIDE} to "
            f"{MAX_INPUT_SIDE} px a side",
        )
    return shape[2], shape[3], _ELEMENT_TYPES[element]


def _check_outputs(session: ort.InferenceSession, num_labels: int) -> None:
    outputs = {o.name: o for o in session.get_outputs()}
    if OUTPUT_NAME not in outputs and any(name in outputs for name in LEGACY_OUTPUTS):
        raise ModelError(
            "ModelOutputUnsupported",
            "it has the outputs classLabel and loss of an older Custom Vision export, not model_output",
        )
    if OUTPUT_NAME not in outputs:
        raise ModelError("ModelOutputUnsupported", f"the model's outputs are {', '.join(outputs) or 'none'}")
    output = outputs[OUTPUT_NAME]
    shape = list(output.shape)
    if output.type not in _ELEMENT_TYPES:
        raise ModelError("ModelOutputUnsupported", f"model_output holds {output.type}, not float")
    if not shape:  # rank not known from the file: the check run decides
        return
    width = shape[1] if len(shape) == 2 else None
    if len(shape) != 2 or not _batch_of_one(shape[0]) or (isinstance(width, int) and width != num_labels):
        raise ModelError(
            "ModelOutputUnsupported",
            f"model_output is shaped {_shape_text(shape)} but labels.txt lists {num_labels} tags",
        )


def _batch_of_one(dim: object) -> bool:
    """1, or a symbolic batch dimension (fed with 1)."""
    return dim == 1 or dim is None or isinstance(dim, str)


def _shape_text(shape: list[object]) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else "?" for d in shape) + "]"


def _info(package: ExportPackage, height: int, width: int) -> ModelInfo:
    iteration = package.manifest.get("IterationId")
    flavor = package.manifest.get("Flavor")
    return ModelInfo(
        iteration_id=str(iteration) if iteration else None,
        flavor=str(flavor) if flavor else None,
        sha1=package.sha1,
        labels=package.labels,
        height=height,
        width=width,
    )
