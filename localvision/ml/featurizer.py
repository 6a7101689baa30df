"""Image features: the frozen EfficientNet-Lite0 network run by onnxruntime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from localvision.ml.cache import ensure_model
from localvision.ml.graph import FEATURE_DIM
from localvision.ml.images import to_network_input

# Small batches keep onnxruntime's memory arena (and so the process's RSS) small during training.
BATCH_SIZE = 4


class Featurizer:
    """Turns images into 1280-d feature vectors. ``embed`` may be called from several threads."""

    dimension: int = FEATURE_DIM

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session

    @classmethod
    def load(cls, cache_dir: Path | None = None, *, threads: int = 2) -> Featurizer:
        """Open the ONNX file in ``cache_dir`` (see ``cache.model_dir``), building it if missing."""
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle worker threads would otherwise spin for a while after each run, burning CPU that the
        # other processes on the machine (storage, the Functions host) need: ~40 % less CPU per image.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = ensure_model(cache_dir)
        return cls(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]))

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Features of ``images`` (any mode and size) as float32 ``(len(images), 1280)``."""
        out = np.empty((len(images), self.dimension), dtype=np.float32)
        for start in range(0, len(images), BATCH_SIZE):
            batch = np.stack([to_network_input(image) for image in images[start : start + BATCH_SIZE]])
            out[start : start + len(batch)] = self._session.run(["features"], {"image": batch})[0]
        return out
