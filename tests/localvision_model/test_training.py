"""Training the head: the fruit exercise's bars, multilabel, determinism, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from localvision.ml import Featurizer, TrainingError, TrainOutcome, train
from tests.localvision_model.conftest import FRUIT_TAGS, FruitSet

APPLE, BANANA, ORANGE, ROUND = 0, 1, 2, 3

pytestmark = pytest.mark.slow


def _assert_all_right(
    outcome: TrainOutcome, photos: FruitSet, featurizer: Featurizer, minimum: float
) -> None:
    for image, (tag,) in zip(photos.images, photos.labels, strict=True):
        probabilities = outcome.model.predict(image, featurizer)
        assert probabilities.argmax() == tag, (FRUIT_TAGS[tag], probabilities)
        assert probabilities[tag] >= minimum, (FRUIT_TAGS[tag], probabilities)


def test_quick_fruit_model_meets_the_exercise_bars(
    fruit_outcome: TrainOutcome, fruit_test: FruitSet, fruit_more: FruitSet, featurizer: Featurizer
) -> None:
    _assert_all_right(fruit_outcome, fruit_test, featurizer, minimum=0.9)
    _assert_all_right(fruit_outcome, fruit_more, featurizer, minimum=0.5)
    assert fruit_outcome.model.num_tags == 3 and not fruit_outcome.model.multilabel
    assert fruit_outcome.oof_probabilities.shape == (45, 3)
    # softmax times the open-set known-ness: at most 1, and 1 for images well inside the training data
    sums = fruit_outcome.oof_probabilities.sum(axis=1)
    assert np.all(sums <= 1.0 + 1e-5) and np.count_nonzero(sums >= 0.95) >= 40, np.round(sums, 3)
    np.testing.assert_allclose(
        fruit_outcome.model.calibrated(fruit_outcome.oof_logits).sum(axis=1), 1.0, rtol=1e-5
    )


def test_advanced_training_meets_the_same_bars(
    fruit_training: FruitSet, fruit_test: FruitSet, fruit_more: FruitSet, featurizer: Featurizer
) -> None:
    outcome = train(fruit_training.images, fruit_training.labels, 3, False, featurizer, advanced=True, seed=3)
    _assert_all_right(outcome, fruit_test, featurizer, minimum=0.9)
    _assert_all_right(outcome, fruit_more, featurizer, minimum=0.5)


def test_same_seed_same_model_other_seed_other_views(
    fruit_training: FruitSet, fruit_outcome: TrainOutcome, featurizer: Featurizer
) -> None:
    again = train(fruit_training.images, fruit_training.labels, 3, False, featurizer, seed=0)
    np.testing.assert_array_equal(again.oof_probabilities, fruit_outcome.oof_probabilities)
    np.testing.assert_array_equal(again.model.coef, fruit_outcome.model.coef)
    other = train(fruit_training.images, fruit_training.labels, 3, False, featurizer, seed=1)
    assert not np.array_equal(other.model.coef, fruit_outcome.model.coef)


def test_multilabel_head_is_one_vs_rest(
    fruit_training: FruitSet, fruit_test: FruitSet, featurizer: Featurizer
) -> None:
    # A fourth tag "round" on every apple and orange: an image can carry two tags.
    labels = [[tag, ROUND] if tag in (APPLE, ORANGE) else [tag] for (tag,) in fruit_training.labels]
    # A fifth tag has no images: it is never predicted.
    outcome = train(fruit_training.images, labels, 5, True, featurizer, seed=0)
    assert outcome.model.multilabel and outcome.oof_probabilities.shape == (45, 5)
    assert np.all(outcome.oof_probabilities[:, 4] == 0.0)
    orange = outcome.model.predict(fruit_test.images[2], featurizer)
    banana = outcome.model.predict(fruit_test.images[1], featurizer)
    assert orange[ORANGE] >= 0.5 and orange[ROUND] >= 0.5 and orange[BANANA] < 0.5
    assert banana[BANANA] >= 0.5 and banana[ROUND] < 0.5
    assert orange.sum() > 1.5  # independent sigmoids, not a softmax
    assert orange[4] == 0.0


def test_two_used_tags_and_an_empty_one(
    fruit_training: FruitSet, fruit_test: FruitSet, featurizer: Featurizer
) -> None:
    keep = [i for i, (tag,) in enumerate(fruit_training.labels) if tag != ORANGE]
    images = [fruit_training.images[i] for i in keep]
    labels = [fruit_training.labels[i] for i in keep]
    outcome = train(images, labels, 3, False, featurizer, seed=0)
    banana = outcome.model.predict(fruit_test.images[1], featurizer)
    assert banana[BANANA] >= 0.9
    assert banana[ORANGE] == 0.0  # a tag without images is never predicted
    assert np.all(outcome.oof_probabilities[:, ORANGE] == 0.0)


@pytest.mark.parametrize(
    ("labels", "num_tags", "multilabel", "message"),
    [
        ([[0]] * 6, 2, False, "at least 2 tags"),
        ([[0]] * 5 + [[1]], 2, False, "tag 1 has only 1 image"),
        ([[0], [0], [0], [1], [1], [0, 1]], 2, False, "exactly one tag"),
        ([[0], [0], [0], [1], [1], []], 2, False, "exactly one tag"),
        ([[0], [0], [0], [1], [1], [2]], 2, False, "outside 0..1"),
        ([[0, 1]] * 3 + [[0]] * 3, 2, True, "tag 0 is on every image"),
        ([[0]] * 3 + [[1]] * 2, 2, False, "6 images but 5 label lists"),
    ],
)
def test_refuses_what_cannot_train(
    labels: list[list[int]], num_tags: int, multilabel: bool, message: str, featurizer: Featurizer
) -> None:
    images = [Image.new("RGB", (32, 32), (i * 40, 0, 0)) for i in range(6)]
    with pytest.raises(TrainingError, match=message):
        train(images, labels, num_tags, multilabel, featurizer)
