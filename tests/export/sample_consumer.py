"""Microsoft's sample consumer of an ONNX export (customvision-export-samples, python/onnx/classification).

Reproduced step for step: metadata read with ``onnx``, Pillow ``open`` + ``convert("RGB")`` +
``resize`` to the input's size (no crop, no EXIF handling, Pillow's default filter), float32 HWC -> NCHW,
channels reversed for ``Bgr8``, divided by 255 unless ``NominalRange_0_255``, run, argmax over labels.txt.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from PIL import Image


class SampleConsumer:
    def __init__(self, zip_bytes: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            model_bytes = archive.read("model.onnx")
            self.labels = archive.read("labels.txt").decode("utf-8").splitlines()
        self.session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        assert len(self.session.get_inputs()) == 1
        model_input = self.session.get_inputs()[0]
        self.input_shape = model_input.shape[2:]
        self.input_name = model_input.name
        self.input_type = {"tensor(float)": np.float32, "tensor(float16)": np.float16}[model_input.type]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.is_bgr = False
        self.is_range255 = False
        for metadata in onnx.load_from_string(model_bytes).metadata_props:
            if metadata.key == "Image.BitmapPixelFormat" and metadata.value == "Bgr8":
                self.is_bgr = True
            elif metadata.key == "Image.NominalPixelRange" and metadata.value == "NominalRange_0_255":
                self.is_range255 = True

    def probabilities(self, image_path: Path) -> np.ndarray:
        # The sample passes [H, W] where Pillow takes (W, H): the same for the square inputs exports have.
        image = Image.open(image_path).convert("RGB").resize(tuple(self.input_shape[::-1]))
        input_array = np.array(image, dtype=np.float32)[np.newaxis, :, :, :]
        input_array = input_array.transpose((0, 3, 1, 2))
        if self.is_bgr:
            input_array = input_array[:, (2, 1, 0), :, :]
        if not self.is_range255:
            input_array = input_array / 255
        outputs = self.session.run(self.output_names, {self.input_name: input_array.astype(self.input_type)})
        return dict(zip(self.output_names, outputs, strict=True))["model_output"][0].astype(np.float32)

    def top_tag(self, image_path: Path) -> str:
        return self.labels[int(self.probabilities(image_path).argmax())]
