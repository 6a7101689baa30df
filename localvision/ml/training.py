"""Train a classifier head on frozen image features, with out-of-fold probabilities for metrics.

Each training image contributes its own features plus those of a few augmented views. The metrics
come from k-fold cross-validation over images (an image's augmented views never sit on the other
side of a fold from it), so they estimate how the model does on photos it has not seen. The same
out-of-fold logits fit the temperature (``calibration``), and each image's distance to the other
images fits the open-set score (``openset``); the out-of-fold probabilities have both applied, as a
prediction would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold

from localvision.ml import openset
from localvision.ml.augment import augmented_views
from localvision.ml.calibration import activate, fit_temperature
from localvision.ml.featurizer import Featurizer
from localvision.ml.head import TrainedModel
from localvision.ml.images import to_rgb
from localvision.ml.labels import label_matrix

MIN_IMAGES_PER_TAG = 2
MAX_FOLDS = 5
REGULAR_VIEWS = 3  # augmented views per image, besides the image itself
ADVANCED_VIEWS = 7
REGULAR_C = 1.0  # inverse L2 strength on standardised features
ADVANCED_C_GRID = (0.1, 0.3, 1.0, 3.0)
_IMAGES_PER_CHUNK = 8
_ABSENT_LOGIT = -1e4  # a tag with no images is never predicted (its probability is exactly 0)


class TrainingError(RuntimeError):
    """The images and labels cannot train a model; the message says why and what to change."""


@dataclass
class TrainOutcome:
    model: TrainedModel
    oof_probabilities: np.ndarray  # (n_images, num_tags), each row from a model that did not see the image
    oof_logits: np.ndarray  # the same predictions' logits, before calibration and the open-set score
    features: np.ndarray  # (n_images, 1 + views, dim): reusable by a training on the same images


def train(
    images: Sequence[Image.Image],
    labels: Sequence[Sequence[int]],
    num_tags: int,
    multilabel: bool,
    featurizer: Featurizer,
    *,
    advanced: bool = False,
    seed: int = 0,
    features: np.ndarray | None = None,
) -> TrainOutcome:
    """Fit the head on ``images`` (``labels[i]``: tag indices of image i). Deterministic given ``seed``.

    ``advanced`` uses more augmented views and picks the regularisation by cross-validation.
    ``features`` from an earlier outcome with the same images (same order), ``advanced`` and ``seed``
    skips featurizing (the costly part), with the same result; the images are then not read.
    """
    truth = _validate(images, labels, num_tags, multilabel)
    views = ADVANCED_VIEWS if advanced else REGULAR_VIEWS
    if features is None:
        features = _featurize(images, featurizer, views, np.random.default_rng(seed))
    elif features.shape[:2] != (len(images), 1 + views):
        raise ValueError(
            f"features of shape {features.shape} do not fit {len(images)} images x {1 + views} views"
        )
    folds = _fold_ids(truth, multilabel, seed)
    if advanced:
        c, oof_logits = _choose_c(features, truth, folds, multilabel)
    else:
        c, oof_logits = REGULAR_C, _out_of_fold(features, truth, folds, multilabel, REGULAR_C)
    head = _fit_head(features, truth, multilabel, c)
    head.temperature = fit_temperature(oof_logits, truth, multilabel)
    head.openset, held_out_similarity = openset.fit(features)
    known = head.openset.knownness_of_similarity(held_out_similarity)
    oof = head.calibrated(oof_logits) * known[:, None]
    return TrainOutcome(model=head, oof_probabilities=oof, oof_logits=oof_logits, features=features)


def _validate(
    images: Sequence[Image.Image], labels: Sequence[Sequence[int]], num_tags: int, multilabel: bool
) -> np.ndarray:
    if len(images) != len(labels):
        raise TrainingError(f"{len(images)} images but {len(labels)} label lists: give one list per image")
    try:
        truth = label_matrix(labels, num_tags)
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    if not multilabel:
        counts = truth.sum(axis=1)
        bad = np.flatnonzero(counts != 1)
        if bad.size:
            raise TrainingError(
                f"image {bad[0]} has {counts[bad[0]]} tags: in a Multiclass project every training image "
                "needs exactly one tag (use a Multilabel project for several)"
            )
    per_tag = truth.sum(axis=0)
    for tag in np.flatnonzero((per_tag > 0) & (per_tag < MIN_IMAGES_PER_TAG)):
        raise TrainingError(f"tag {tag} has only {per_tag[tag]} image; add at least {MIN_IMAGES_PER_TAG}")
    if np.count_nonzero(per_tag) < 2:
        raise TrainingError(
            f"training needs at least 2 tags with {MIN_IMAGES_PER_TAG} or more images each; "
            f"{np.count_nonzero(per_tag)} tag(s) have images"
        )
    if multilabel:
        for tag in np.flatnonzero(per_tag == len(labels)):
            raise TrainingError(f"tag {tag} is on every image: add images without it so it can be learnt")
    return truth


def _featurize(
    images: Sequence[Image.Image], featurizer: Featurizer, views: int, rng: np.random.Generator
) -> np.ndarray:
    """Features ``(n_images, 1 + views, dim)``: the image itself first, then its augmented views.

    Works through the images a few at a time and reads each once, so ``images`` may be a lazy
    sequence and the views of a large project never sit in memory together.
    """
    features = np.empty((len(images), 1 + views, featurizer.dimension), dtype=np.float32)
    for start in range(0, len(images), _IMAGES_PER_CHUNK):
        batch: list[Image.Image] = []
        for index in range(start, min(start + _IMAGES_PER_CHUNK, len(images))):
            rgb = to_rgb(images[index])
            batch.append(rgb)
            batch.extend(augmented_views(rgb, views, rng))
        features[start : start + len(batch) // (1 + views)] = featurizer.embed(batch).reshape(
            -1, 1 + views, featurizer.dimension
        )
    return features


def _fold_ids(truth: np.ndarray, multilabel: bool, seed: int) -> np.ndarray:
    """Fold number of each image: stratified by tag (for Multilabel, by each image's rarest tag)."""
    n = truth.shape[0]
    if multilabel:
        rarity = np.where(truth, truth.sum(axis=0), n + 1)
        strata = np.where(truth.any(axis=1), rarity.argmin(axis=1), -1)
    else:
        strata = truth.argmax(axis=1)
    smallest = min(np.unique(strata, return_counts=True)[1])
    k = min(MAX_FOLDS, int(smallest))
    if k >= 2:
        splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(n), strata)
    else:
        splits = KFold(min(MAX_FOLDS, n), shuffle=True, random_state=seed).split(np.zeros(n))
    folds = np.empty(n, dtype=int)
    for fold, (_, test) in enumerate(splits):
        folds[test] = fold
    return folds


def _out_of_fold(
    features: np.ndarray, truth: np.ndarray, folds: np.ndarray, multilabel: bool, c: float
) -> np.ndarray:
    """Out-of-fold logits ``(n_images, num_tags)``: each image's from a model fitted without it."""
    oof = np.zeros(truth.shape, dtype=np.float32)
    for fold in np.unique(folds):
        held_out = folds == fold
        model = _fit_head(features[~held_out], truth[~held_out], multilabel, c)
        oof[held_out] = model.logits(features[held_out, 0])
    return oof


def _choose_c(
    features: np.ndarray, truth: np.ndarray, folds: np.ndarray, multilabel: bool
) -> tuple[float, np.ndarray]:
    """The regularisation with the lowest out-of-fold log loss, and its out-of-fold logits."""
    best: tuple[float, float, np.ndarray] | None = None
    for c in ADVANCED_C_GRID:
        oof = _out_of_fold(features, truth, folds, multilabel, c)
        loss = _log_loss(activate(oof, multilabel), truth, multilabel)
        if best is None or loss < best[0]:
            best = (loss, c, oof)
    assert best is not None
    return best[1], best[2]


def _fit_head(features: np.ndarray, truth: np.ndarray, multilabel: bool, c: float) -> TrainedModel:
    """Logistic regression on every view of every image; views inherit their image's tags."""
    n_images, n_views, dim = features.shape
    x = features.reshape(n_images * n_views, dim).astype(np.float64)
    y = np.repeat(truth, n_views, axis=0)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    num_tags = truth.shape[1]
    coef = np.zeros((num_tags, dim))
    intercept = np.full(num_tags, _ABSENT_LOGIT)
    if multilabel:
        for tag in range(num_tags):
            column = y[:, tag]
            if not column.any():  # a tag without images here stays at _ABSENT_LOGIT
                continue
            if column.all():  # only inside a fold (train refuses a tag on every image): near-certain
                intercept[tag] = -_ABSENT_LOGIT
                continue
            fit = LogisticRegression(C=c, max_iter=2000).fit(z, column)
            coef[tag], intercept[tag] = fit.coef_[0], fit.intercept_[0]
    else:
        fit = LogisticRegression(C=c, max_iter=2000).fit(z, y.argmax(axis=1))
        classes = fit.classes_
        if len(classes) == 2:  # sklearn keeps one row for two classes; softmax([0, z]) == sigmoid(z)
            coef[classes[0]], intercept[classes[0]] = 0.0, 0.0
            coef[classes[1]], intercept[classes[1]] = fit.coef_[0], fit.intercept_[0]
        else:
            coef[classes], intercept[classes] = fit.coef_, fit.intercept_
    return TrainedModel(
        num_tags=num_tags, multilabel=multilabel, mean=mean, scale=scale, coef=coef, intercept=intercept
    )


def _log_loss(probabilities: np.ndarray, truth: np.ndarray, multilabel: bool) -> float:
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    if multilabel:
        return float(-np.mean(np.where(truth, np.log(p), np.log(1 - p))))
    return float(-np.mean(np.log(p[truth])))
