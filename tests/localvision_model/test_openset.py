"""Calibration and the open-set score: fruit photos keep their tag, out-of-class photos go to review."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from localvision.ml import Featurizer, TrainedModel, TrainOutcome, prepare_image, train
from localvision.ml.calibration import activate, expected_calibration_error, fit_temperature
from localvision.ml.evaluation import REVIEW_THRESHOLD, evaluate
from tests.localvision_model.conftest import FRUIT_TAGS, FruitSet
from tests.localvision_model.out_of_class import out_of_class_paths


@pytest.fixture(scope="module")
def unknown_photos() -> dict:
    return {path.stem: prepare_image(path.read_bytes()) for path in out_of_class_paths()}


@pytest.mark.slow
@pytest.mark.parametrize("multilabel", [False, True])
def test_out_of_class_photos_go_to_review_and_fruit_photos_stay(
    multilabel: bool,
    featurizer: Featurizer,
    fruit_training: FruitSet,
    fruit_more: FruitSet,
    fruit_test: FruitSet,
    unknown_photos: dict,
) -> None:
    held_out = (fruit_more.images + fruit_test.images, [t for (t,) in fruit_more.labels + fruit_test.labels])
    result = evaluate(
        featurizer,
        (fruit_training.images, fruit_training.labels),
        held_out,
        unknown_photos,
        len(FRUIT_TAGS),
        multilabel=multilabel,
    )
    assert result.threshold == REVIEW_THRESHOLD == 0.6
    # every one of the 9 held-out fruit photos keeps its right tag, with a margin above the threshold
    assert result.known_kept == result.known_total == 9
    assert result.lowest_known >= 0.9, result.lowest_known
    # the bar is 90 % of the out-of-class set; what is not a blend of two fruits goes far below
    assert result.unknown_share >= 0.9, result.escaped
    assert set(result.escaped) <= {n for n in result.unknown_top if n.startswith("blend-")}, result.escaped
    no_fruit = {n: p for n, p in result.unknown_top.items() if not n.startswith("blend-")}
    assert max(no_fruit.values()) <= 0.3, no_fruit
    assert result.ece <= 0.05 and 0.25 <= result.temperature <= 8.0


def test_temperature_undoes_overconfidence() -> None:
    """Logits three times too large (an overconfident model) are brought back: T ~ 3, ECE falls."""
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 1.5
    truth_index = np.array([rng.choice(3, p=p) for p in activate(true_logits, False)])
    truth = np.eye(3, dtype=bool)[truth_index]
    temperature = fit_temperature(3 * true_logits, truth, False)
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(activate(3 * true_logits, False), truth, False)
    after = expected_calibration_error(activate(3 * true_logits / temperature, False), truth, False)
    assert before > 0.1 and after < 0.03, (before, after)


def test_expected_calibration_error_by_hand() -> None:
    # Multiclass: two photos at 0.95 (one right), two at 0.65 (both right) -> bins 9 and 6
    probabilities = np.array([[0.95, 0.05], [0.95, 0.05], [0.35, 0.65], [0.35, 0.65]])
    truth = np.array([[1, 0], [0, 1], [0, 1], [0, 1]], dtype=bool)
    assert expected_calibration_error(probabilities, truth, False) == pytest.approx(
        0.5 * abs(0.95 - 0.5) + 0.5 * abs(0.65 - 1.0)
    )
    # Multilabel: every (image, tag) pair counts: 0.9 -> had it, 0.1 -> had it not, 0.8 -> had it not
    ml = np.array([[0.9, 0.1], [0.8, 0.1]])
    ml_truth = np.array([[1, 0], [0, 0]], dtype=bool)
    assert expected_calibration_error(ml, ml_truth, True) == pytest.approx(
        0.25 * 0.1 + 0.5 * 0.1 + 0.25 * 0.8
    )


@pytest.mark.slow
def test_fruit_model_stores_its_calibration_and_open_set(tmp_path: Path, fruit_outcome: TrainOutcome) -> None:
    model = fruit_outcome.model
    assert model.openset is not None and model.openset.bank.shape == (45 * 4, 1280)
    np.testing.assert_allclose(np.linalg.norm(model.openset.bank, axis=1), 1.0, rtol=1e-5)
    path = tmp_path / "fruit.npz"
    model.save(path)
    loaded = TrainedModel.load(path)
    assert loaded.temperature == model.temperature and loaded.openset.centre == model.openset.centre
    # a training photo's own views are in the bank: it is fully known, its probabilities sum to 1
    own = fruit_outcome.features[:3, 0]
    np.testing.assert_allclose(loaded.predict_features(own).sum(axis=1), 1.0, rtol=1e-4)


def test_a_model_saved_before_calibration_still_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    meta = {"format": 1, "num_tags": 2, "multilabel": False}
    coef, intercept = rng.normal(size=(2, 1280)) * 0.05, rng.normal(size=2)
    path = tmp_path / "old.npz"
    np.savez(path, meta=np.array(json.dumps(meta)), mean=np.zeros(1280), scale=np.ones(1280), coef=coef,
             intercept=intercept)  # fmt: skip
    model = TrainedModel.load(path)
    assert model.temperature == 1.0 and model.openset is None
    features = rng.random((3, 1280), dtype=np.float32)
    np.testing.assert_allclose(model.predict_features(features).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_distractors_taught_as_negative_land_there_and_the_rest_still_go_to_review(
    featurizer: Featurizer, fruit_training: FruitSet, fruit_test: FruitSet, unknown_photos: dict
) -> None:
    """What the pipeline's _negative/ folder does: flat colours trained under a fourth (Negative) tag."""
    taught = ("flat-white", "flat-black", "flat-grey", "flat-red", "flat-yellow")
    images = fruit_training.images + [unknown_photos[name] for name in taught]
    labels = fruit_training.labels + [[3]] * len(taught)
    model = train(images, labels, 4, False, featurizer, seed=0).model
    for name in ("flat-blue-wall", "flat-green", "flat-orange-colour"):  # colours it was not shown
        probabilities = model.predict(unknown_photos[name], featurizer)
        assert probabilities.argmax() == 3 and probabilities[3] >= 0.9, (name, probabilities)
    for name in ("photo-chelsea", "photo-astronaut", "desk-rectangles"):  # no distractor like these
        assert model.predict(unknown_photos[name], featurizer).max() < 0.6, name
    for image, (tag,) in zip(fruit_test.images, fruit_test.labels, strict=True):
        probabilities = model.predict(image, featurizer)
        assert probabilities.argmax() == tag and probabilities[tag] >= 0.9, probabilities
