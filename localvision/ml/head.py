"""The trained classifier head: standardised features -> logistic regression -> tag probabilities.

Multiclass: one multinomial (softmax) model over the tags; Multilabel: one sigmoid model per tag
(one-vs-rest), so probabilities need not sum to 1. Stored as plain arrays (``.npz``), never pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from localvision.ml.featurizer import Featurizer

FORMAT_VERSION = 1


class TrainedModel:
    """Logits = ((features - mean) / scale) @ coef.T + intercept, one row per tag."""

    def __init__(
        self,
        *,
        num_tags: int,
        multilabel: bool,
        mean: np.ndarray,
        scale: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
    ) -> None:
        if coef.shape != (num_tags, mean.shape[0]) or intercept.shape != (num_tags,):
            raise ValueError(f"coef {coef.shape} / intercept {intercept.shape} do not fit {num_tags} tags")
        self.num_tags = num_tags
        self.multilabel = multilabel
        self.mean = mean.astype(np.float32)
        self.scale = scale.astype(np.float32)
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)

    def predict(self, image: Image.Image, featurizer: Featurizer) -> np.ndarray:
        """Probabilities ``(num_tags,)`` for one image."""
        return self.predict_features(featurizer.embed([image]))[0]

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, num_tags)`` for feature rows ``(n, dimension)``."""
        z = (np.asarray(features, dtype=np.float32) - self.mean) / self.scale
        logits = (z @ self.coef.T + self.intercept).astype(np.float64)
        if self.multilabel:
            return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)  # sigmoid, overflow-free
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, path: Path) -> None:
        meta = {"format": FORMAT_VERSION, "num_tags": self.num_tags, "multilabel": self.multilabel}
        with open(path, "wb") as out:
            np.savez(
                out,
                meta=np.array(json.dumps(meta)),
                mean=self.mean,
                scale=self.scale,
                coef=self.coef,
                intercept=self.intercept,
            )

    @classmethod
    def load(cls, path: Path) -> TrainedModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"{path}: model format {meta.get('format')} is not {FORMAT_VERSION}")
            return cls(
                num_tags=int(meta["num_tags"]),
                multilabel=bool(meta["multilabel"]),
                mean=data["mean"],
                scale=data["scale"],
                coef=data["coef"],
                intercept=data["intercept"],
            )
