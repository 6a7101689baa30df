"""Precision, recall and average precision per tag and overall, like Custom Vision's iteration performance.

Computed from out-of-fold probabilities at a threshold chosen at query time. A prediction counts for
a tag when its probability is at or above the threshold (Multiclass and Multilabel alike).
- precision = TP / (TP + FP), 0 when nothing is predicted; recall = TP / (TP + FN).
- The standard deviations are the binomial standard errors sqrt(p (1 - p) / n), n being the
  denominator (the service does not document its own estimate).
- Average precision does not depend on the threshold: the area under the precision-recall curve
  (sum over thresholds of (R_k - R_k-1) * P_k), per tag.
- Overall precision and recall pool every (image, tag) decision; overall AP is the mean of the
  per-tag APs over tags that have images.
- The expected calibration error (``calibration.expected_calibration_error``) does not depend on the
  threshold either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score

from localvision.ml.calibration import expected_calibration_error
from localvision.ml.labels import label_matrix


@dataclass
class TagMetrics:
    precision: float
    precision_std: float
    recall: float
    recall_std: float
    average_precision: float


@dataclass
class Performance:
    per_tag: list[TagMetrics]
    precision: float
    precision_std: float
    recall: float
    recall_std: float
    average_precision: float
    calibration_error: float


def _ratio(hits: int, total: int) -> tuple[float, float]:
    if total == 0:
        return 0.0, 0.0
    value = hits / total
    return value, float(np.sqrt(value * (1.0 - value) / total))


def performance(
    oof_probabilities: np.ndarray,
    labels: Sequence[Sequence[int]],
    threshold: float,
    *,
    multilabel: bool = False,
) -> Performance:
    """Metrics at ``threshold`` for probabilities ``(n_images, num_tags)`` against the true ``labels``."""
    scores = np.asarray(oof_probabilities, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != len(labels):
        raise ValueError(f"probabilities {scores.shape} do not match {len(labels)} labelled images")
    truth = label_matrix(labels, scores.shape[1])
    predicted = scores >= threshold
    per_tag = []
    aps = []
    for tag in range(scores.shape[1]):
        y, hit = truth[:, tag], predicted[:, tag]
        tp = int(np.sum(hit & y))
        precision, precision_std = _ratio(tp, int(hit.sum()))
        recall, recall_std = _ratio(tp, int(y.sum()))
        ap = float(average_precision_score(y, scores[:, tag])) if y.any() else 0.0
        if y.any():
            aps.append(ap)
        per_tag.append(TagMetrics(precision, precision_std, recall, recall_std, ap))
    tp_all = int(np.sum(predicted & truth))
    precision, precision_std = _ratio(tp_all, int(predicted.sum()))
    recall, recall_std = _ratio(tp_all, int(truth.sum()))
    return Performance(
        per_tag,
        precision,
        precision_std,
        recall,
        recall_std,
        float(np.mean(aps)) if aps else 0.0,
        expected_calibration_error(scores, truth, multilabel),
    )
