"""The trained classifier head: standardised features -> logistic regression -> tag probabilities.

Multiclass: one multinomial (softmax) model over the tags; Multilabel: one sigmoid model per tag
(one-vs-rest), so probabilities need not sum to 1. The logits are divided by a fitted temperature
(``calibration``) and the probabilities multiplied by the image's known-ness (``openset``), so an image
unlike every training image gets low probabilities for every tag. Stored as plain arrays (``.npz``),
never pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from localvision.ml.calibration import activate
from localvision.ml.featurizer import Featurizer
from localvision.ml.openset import OpenSet

FORMAT_VERSION = 2
_READABLE_FORMATS = (1, 2)  # format 1: before calibration and the open-set score (T = 1, no scaling)


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
        temperature: float = 1.0,
        openset: OpenSet | None = None,
    ) -> None:
        if coef.shape != (num_tags, mean.shape[0]) or intercept.shape != (num_tags,):
            raise ValueError(f"coef {coef.shape} / intercept {intercept.shape} do not fit {num_tags} tags")
        self.num_tags = num_tags
        self.multilabel = multilabel
        self.mean = mean.astype(np.float32)
        self.scale = scale.astype(np.float32)
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)
        self.temperature = float(temperature)
        self.openset = openset

    def predict(self, image: Image.Image, featurizer: Featurizer) -> np.ndarray:
        """Probabilities ``(num_tags,)`` for one image."""
        return self.predict_features(featurizer.embed([image]))[0]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Uncalibrated logits ``(n, num_tags)`` for feature rows ``(n, dimension)``."""
        z = (np.asarray(features, dtype=np.float32) - self.mean) / self.scale
        return z @ self.coef.T + self.intercept

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities from logits divided by the temperature, before the open-set scaling."""
        inverse = np.float32(1.0 / self.temperature)
        return activate(np.asarray(logits, dtype=np.float32) * inverse, self.multilabel).astype(np.float32)

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, num_tags)`` for feature rows ``(n, dimension)``."""
        probabilities = self.calibrated(self.logits(features))
        if self.openset is None:
            return probabilities
        return probabilities * self.openset.knownness(features)[:, None]

    def save(self, path: Path) -> None:
        meta = {
            "format": FORMAT_VERSION,
            "num_tags": self.num_tags,
            "multilabel": self.multilabel,
            "temperature": self.temperature,
        }
        arrays = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}
        if self.openset is not None:
            meta |= {"openset_centre": self.openset.centre, "openset_width": self.openset.width}
            arrays["openset_bank"] = self.openset.bank
        with open(path, "wb") as out:
            np.savez(out, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: Path) -> TrainedModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") not in _READABLE_FORMATS:
                raise ValueError(f"{path}: model format {meta.get('format')} is not {FORMAT_VERSION}")
            openset = None
            if "openset_bank" in data.files:
                openset = OpenSet(
                    bank=data["openset_bank"],
                    centre=float(meta["openset_centre"]),
                    width=float(meta["openset_width"]),
                )
            return cls(
                num_tags=int(meta["num_tags"]),
                multilabel=bool(meta["multilabel"]),
                mean=data["mean"],
                scale=data["scale"],
                coef=data["coef"],
                intercept=data["intercept"],
                temperature=float(meta.get("temperature", 1.0)),
                openset=openset,
            )
