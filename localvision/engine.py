"""The bridge to ``localvision.ml``: one featurizer per process, trained models cached by iteration.

Nothing here reads a model file per request: a model is loaded once (or kept from training) and reused.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from localvision.persistence import atomic_write

if TYPE_CHECKING:
    from localvision.ml import Featurizer, Performance, TrainedModel

MODEL_FILE = "model.npz"
EVALUATION_FILE = "evaluation.npz"
MAX_KEPT_FEATURE_BYTES = 32 * 1024 * 1024  # ~1,600 images in an Advanced training, ~3,200 in a Regular one


class LazySequence(Sequence):
    """``convert(source[i])`` computed when item i is read, so a long list never sits in memory at once."""

    def __init__(self, source: Sequence, convert: Callable) -> None:
        self._source = source
        self._convert = convert

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._convert(self._source[index])


class TrainingFailure(Exception):
    """Training could not produce a model; the message is shown as the iteration's error details."""


class Engine:
    """Loads the featurizer lazily (first training or prediction) and keeps loaded models in memory."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._featurizer: Featurizer | None = None
        self._featurizer_lock = threading.Lock()
        self._models: dict[str, TrainedModel] = {}
        # The features of the last training set, by its key: a retrain of unchanged images reuses them.
        self._last_features: tuple[str, np.ndarray] | None = None
        self._evaluations: dict[str, tuple[np.ndarray, list[list[int]], bool]] = {}
        self._lock = threading.Lock()

    def featurizer(self) -> Featurizer:
        if self._featurizer is None:
            with self._featurizer_lock:
                if self._featurizer is None:
                    from localvision.ml import Featurizer

                    self._featurizer = Featurizer.load(cache_dir=self._cache_dir)
        return self._featurizer

    def train(
        self,
        iteration_id: str,
        out_dir: Path,
        images: Sequence[bytes],
        labels: Sequence[Sequence[int]],
        num_tags: int,
        multilabel: bool,
        advanced: bool,
        images_key: str | None = None,
    ) -> None:
        """Train; write the model and its out-of-fold evaluation to ``out_dir``; keep both in memory.

        ``images_key`` names the exact image list (e.g. a hash of the image hashes in order): the next
        training with the same key and ``advanced`` reuses the features instead of computing them again.
        """
        from localvision.ml import ImageDecodeError, TrainingError, prepare_image, train

        key = f"{images_key}|{advanced}" if images_key else None
        last = self._last_features
        cached = last[1] if key and last and last[0] == key else None
        try:
            outcome = train(
                LazySequence(images, prepare_image), labels, num_tags, multilabel, self.featurizer(),
                advanced=advanced, seed=0, features=cached,
            )  # fmt: skip
        except ImageDecodeError as error:
            raise TrainingFailure("a training image cannot be decoded: delete it and train again") from error
        except TrainingError as error:
            raise TrainingFailure(str(error)) from error
        if key and outcome.features.nbytes <= MAX_KEPT_FEATURE_BYTES:
            self._last_features = (key, outcome.features)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / f".{MODEL_FILE}.tmp"
        outcome.model.save(tmp)
        os.replace(tmp, out_dir / MODEL_FILE)
        label_lists = [list(map(int, row)) for row in labels]
        buffer = io.BytesIO()
        np.savez(
            buffer,
            probabilities=outcome.oof_probabilities,
            labels=np.array(json.dumps(label_lists)),
            multilabel=np.array(multilabel),
        )
        atomic_write(out_dir / EVALUATION_FILE, buffer.getvalue())
        with self._lock:
            self._models[iteration_id] = outcome.model
            self._evaluations[iteration_id] = (outcome.oof_probabilities, label_lists, multilabel)

    def model(self, iteration_id: str, model_dir: Path) -> TrainedModel:
        """The trained head of an iteration, loaded once and kept."""
        model = self._models.get(iteration_id)
        if model is None:
            from localvision.ml import TrainedModel

            with self._lock:
                model = self._models.get(iteration_id)
                if model is None:
                    model = TrainedModel.load(model_dir / MODEL_FILE)
                    self._models[iteration_id] = model
        return model

    def predict(self, iteration_id: str, model_dir: Path, data: bytes) -> np.ndarray:
        """Probabilities per tag (in the iteration's tag order); ValueError if ``data`` is not an image."""
        from localvision.ml import prepare_image

        image = prepare_image(data)  # ImageDecodeError is a ValueError
        return self.model(iteration_id, model_dir).predict(image, self.featurizer())

    def performance(self, iteration_id: str, model_dir: Path, threshold: float) -> Performance:
        from localvision.ml import performance

        probabilities, labels, multilabel = self._evaluation(iteration_id, model_dir)
        return performance(probabilities, labels, threshold, multilabel=multilabel)

    def image_probabilities(self, iteration_id: str, model_dir: Path) -> np.ndarray:
        """The out-of-fold probabilities ``(n_images, num_tags)``, in the iteration's training-set order."""
        return self._evaluation(iteration_id, model_dir)[0]

    def _evaluation(self, iteration_id: str, model_dir: Path) -> tuple[np.ndarray, list[list[int]], bool]:
        evaluation = self._evaluations.get(iteration_id)
        if evaluation is None:
            with np.load(model_dir / EVALUATION_FILE, allow_pickle=False) as data:
                labels = json.loads(str(data["labels"]))
                # files written before the flag: a Multiclass image has exactly one tag
                multilabel = bool(data["multilabel"]) if "multilabel" in data.files else None
                if multilabel is None:
                    multilabel = any(len(row) != 1 for row in labels)
                evaluation = (data["probabilities"], labels, multilabel)
            with self._lock:
                self._evaluations[iteration_id] = evaluation
        return evaluation

    def forget(self, iteration_id: str) -> None:
        with self._lock:
            self._models.pop(iteration_id, None)
            self._evaluations.pop(iteration_id, None)
