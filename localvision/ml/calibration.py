"""Calibration: temperature scaling fitted on out-of-fold logits, and the expected calibration error.

Temperature scaling (Guo et al., 2017) divides every logit by one number T chosen to minimise the log
loss of held-out predictions; it changes how sure the model is, never which tag ranks first. The
held-out predictions are training's out-of-fold ones, so no image is set aside for it.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

# A small, cleanly separated training set pushes T towards 0 without end (every held-out answer was
# right, so sharper is always "better"): the bounds keep the fit to what such a set can tell.
MIN_TEMPERATURE = 0.25
MAX_TEMPERATURE = 8.0
ECE_BINS = 10


def activate(logits: np.ndarray, multilabel: bool) -> np.ndarray:
    """Softmax over the tags (Multiclass) or a sigmoid per tag (Multilabel), in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    if multilabel:
        return 0.5 * (1.0 + np.tanh(0.5 * logits))  # sigmoid, overflow-free
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _log_loss(logits: np.ndarray, truth: np.ndarray, multilabel: bool) -> float:
    p = np.clip(activate(logits, multilabel), 1e-12, 1 - 1e-12)
    if multilabel:
        return float(-np.mean(np.where(truth, np.log(p), np.log(1 - p))))
    return float(-np.mean(np.log(p[truth])))


def fit_temperature(logits: np.ndarray, truth: np.ndarray, multilabel: bool) -> float:
    """The T in [MIN_TEMPERATURE, MAX_TEMPERATURE] with the lowest log loss of ``activate(logits / T)``.

    ``truth``: boolean ``(n_images, num_tags)``. Tags without images (logit -1e4) take no part.
    """
    used = truth.any(axis=0)
    logits, truth = np.asarray(logits, dtype=np.float64)[:, used], truth[:, used]
    if not multilabel:
        keep = truth.any(axis=1)
        logits, truth = logits[keep], truth[keep]
    if logits.size == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: _log_loss(logits / np.exp(log_t), truth, multilabel),
        bounds=(np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)),
        method="bounded",
    )
    return float(np.exp(result.x))


def expected_calibration_error(probabilities: np.ndarray, truth: np.ndarray, multilabel: bool) -> float:
    """How far stated probabilities are from observed frequencies, weighted over 10 equal-width bins.

    Multiclass: the top tag's probability against whether the top tag is right (top-label ECE).
    Multilabel: every (image, tag) probability against whether the image has the tag.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size == 0:
        return 0.0
    if multilabel:
        confidence, correct = p.ravel(), truth.ravel().astype(np.float64)
    else:
        top = p.argmax(axis=1)
        confidence = p[np.arange(len(p)), top]
        correct = truth[np.arange(len(p)), top].astype(np.float64)
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    error = 0.0
    for b in np.unique(bins):
        inside = bins == b
        error += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(error)
