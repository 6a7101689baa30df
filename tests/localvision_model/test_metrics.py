"""Metrics: checked by hand on small arrays, and taken out-of-fold rather than from the fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from localvision.ml import Featurizer, performance, train
from tests.localvision_model.conftest import FruitSet

# Four images, two tags (Multiclass-shaped, but the rule is the same: probability >= threshold).
PROBABILITIES = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.55, 0.45]])
LABELS = [[0], [1], [1], [0]]


def test_precision_recall_by_hand_at_one_half() -> None:
    perf = performance(PROBABILITIES, LABELS, threshold=0.5)
    apple, banana = perf.per_tag
    # tag 0 predicted for images 0, 1, 3; right for 0 and 3 -> precision 2/3; both true found -> recall 1
    assert apple.precision == pytest.approx(2 / 3)
    assert apple.precision_std == pytest.approx(math.sqrt((2 / 3) * (1 / 3) / 3))
    assert apple.recall == 1.0 and apple.recall_std == 0.0
    # tag 1 predicted for image 2 only, right -> precision 1; 1 of 2 found -> recall 1/2
    assert banana.precision == 1.0
    assert banana.recall == 0.5
    assert banana.recall_std == pytest.approx(math.sqrt(0.25 / 2))
    # pooled: 4 predictions, 3 right; 4 true tags, 3 found
    assert perf.precision == pytest.approx(3 / 4) and perf.recall == pytest.approx(3 / 4)


def test_average_precision_by_hand_and_independent_of_threshold() -> None:
    # tag 0 ranked 0.9 (T), 0.6 (F), 0.55 (T), 0.3 (F): AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    # tag 1 ranked 0.7 (T), 0.45 (F), 0.4 (T), 0.1 (F): AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    for threshold in (0.2, 0.5, 0.8):
        perf = performance(PROBABILITIES, LABELS, threshold)
        assert [t.average_precision for t in perf.per_tag] == pytest.approx([5 / 6, 5 / 6])
        assert perf.average_precision == pytest.approx(5 / 6)


def test_threshold_counts_probability_equal_to_it_and_empty_predictions() -> None:
    assert performance(PROBABILITIES, LABELS, threshold=0.7).per_tag[1].precision == 1.0
    nothing = performance(PROBABILITIES, LABELS, threshold=0.95)
    assert nothing.precision == 0.0 and nothing.recall == 0.0 and nothing.precision_std == 0.0


def test_tag_without_images_is_left_out_of_the_mean_ap() -> None:
    probabilities = np.array([[0.8, 0.2, 0.0], [0.3, 0.7, 0.0], [0.6, 0.4, 0.0]])
    perf = performance(probabilities, [[0], [1], [0]], threshold=0.5)
    assert perf.per_tag[2].average_precision == 0.0
    assert perf.average_precision == pytest.approx(1.0)


def test_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="do not match"):
        performance(PROBABILITIES, LABELS[:3], 0.5)


@pytest.mark.slow
def test_out_of_fold_metrics_see_through_memorised_noise(
    fruit_training: FruitSet, featurizer: Featurizer
) -> None:
    """Labels shuffled at random: the fit memorises them, the out-of-fold predictions cannot."""
    rng = np.random.default_rng(7)
    labels = [[int(tag)] for tag in rng.permutation(np.repeat(np.arange(3), 15))]
    outcome = train(fruit_training.images, labels, 3, False, featurizer, seed=0)
    fit = outcome.model.predict_features(featurizer.embed(fruit_training.images))
    fit_perf = performance(fit, labels, 0.5)
    oof_perf = performance(outcome.oof_probabilities, labels, 0.5)
    assert fit_perf.precision >= 0.9 and fit_perf.average_precision >= 0.9
    assert oof_perf.recall <= 0.6 and oof_perf.average_precision <= 0.6
