"""How well the model knows what it does not know: in-class photos above the review threshold with the
right tag, out-of-class photos below it, and the calibration error. ``bench/openset.py`` prints it;
a test asserts it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from localvision.ml.calibration import activate, expected_calibration_error
from localvision.ml.featurizer import Featurizer
from localvision.ml.labels import label_matrix
from localvision.ml.training import train

REVIEW_THRESHOLD = 0.6  # the pipeline's default REVIEW_THRESHOLD


@dataclass
class Evaluation:
    multilabel: bool
    threshold: float
    known_total: int
    known_kept: int  # in-class photos whose top tag is right and at or above the threshold
    lowest_known: float  # the lowest top probability among the in-class photos
    unknown_total: int
    unknown_reviewed: int  # out-of-class photos whose every tag is below the threshold
    unknown_top: dict[str, float]  # each out-of-class photo's top probability
    ece: float  # out-of-fold, calibrated and open-set scaled, as the iteration reports it
    ece_uncalibrated: float  # the same predictions before temperature and open-set scaling
    temperature: float

    @property
    def escaped(self) -> list[str]:
        """The out-of-class photos that stay at or above the threshold."""
        return [name for name, p in self.unknown_top.items() if p >= self.threshold]

    @property
    def unknown_share(self) -> float:
        return self.unknown_reviewed / self.unknown_total if self.unknown_total else 0.0

    @property
    def known_share(self) -> float:
        return self.known_kept / self.known_total if self.known_total else 0.0


def evaluate(
    featurizer: Featurizer,
    training: tuple[Sequence[Image.Image], Sequence[Sequence[int]]],
    held_out: tuple[Sequence[Image.Image], Sequence[int]],
    unknown: dict[str, Image.Image],
    num_tags: int,
    *,
    multilabel: bool = False,
    threshold: float = REVIEW_THRESHOLD,
) -> Evaluation:
    """Train a Quick model on ``training`` (images, tag lists); score ``held_out`` (images, their one tag)
    and the ``unknown`` photos (name -> image) at ``threshold``."""
    images, labels = training
    outcome = train(images, labels, num_tags, multilabel, featurizer, seed=0)
    model = outcome.model
    known = model.predict_features(featurizer.embed(list(held_out[0])))
    top = known.max(axis=1)
    kept = (known.argmax(axis=1) == np.asarray(held_out[1])) & (top >= threshold)
    names = list(unknown)
    strange = model.predict_features(featurizer.embed([unknown[name] for name in names])).max(axis=1)
    truth = label_matrix(labels, num_tags)
    return Evaluation(
        multilabel=multilabel,
        threshold=threshold,
        known_total=len(top),
        known_kept=int(kept.sum()),
        lowest_known=float(top.min()),
        unknown_total=len(names),
        unknown_reviewed=int((strange < threshold).sum()),
        unknown_top={name: float(p) for name, p in zip(names, strange, strict=True)},
        ece=expected_calibration_error(outcome.oof_probabilities, truth, multilabel),
        ece_uncalibrated=expected_calibration_error(
            activate(outcome.oof_logits, multilabel), truth, multilabel
        ),
        temperature=model.temperature,
    )
