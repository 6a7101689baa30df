"""What can go wrong with an exported ONNX model, as ``(code, message)``: what happened and what to do.

Every message comes from ``CATALOGUE``; ``detail`` fills in the specifics (a file name, a shape), never a
Python repr or an exception's text.
"""

from __future__ import annotations

_EXPORT_AGAIN = "export the iteration again from Custom Vision (platform ONNX) and store the new zip"

CATALOGUE: dict[str, str] = {
    "ModelInvalid": "The ONNX model zip cannot be used: {detail}. Check that it is a Custom Vision export "
    "(model.onnx, labels.txt, cvexport.manifest at its root), or " + _EXPORT_AGAIN + ".",
    "ModelChecksumMismatch": "The model zip was altered or damaged: {detail}. Store the zip exactly as "
    "Custom Vision exported it, or " + _EXPORT_AGAIN + ".",
    "ModelInputUnsupported": "The model's input is not a Custom Vision classification input: {detail}. "
    "The pipeline feeds one float input named data, shaped [1, 3, height, width]: " + _EXPORT_AGAIN + ".",
    "ModelOutputUnsupported": "The model's output cannot be read: {detail}. The pipeline reads one output "
    "named model_output, shaped [1, N] with one probability per line of labels.txt, as current Custom "
    "Vision ONNX exports have: " + _EXPORT_AGAIN + ".",
    "NotAnImage": "The image cannot be read: {detail}. Upload a JPEG, PNG, GIF or BMP image.",
}


class OnnxError(Exception):
    """A refusal with a stable ``code`` and a catalogue ``message``."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.message = CATALOGUE[code].format(detail=detail)
        super().__init__(self.message)

    @property
    def pair(self) -> tuple[str, str]:
        return self.code, self.message
