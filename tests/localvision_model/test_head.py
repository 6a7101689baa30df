"""TrainedModel persistence: plain arrays, identical predictions after a round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from localvision.ml import TrainedModel, TrainOutcome


def _random_model(multilabel: bool) -> TrainedModel:
    rng = np.random.default_rng(0)
    return TrainedModel(
        num_tags=4,
        multilabel=multilabel,
        mean=rng.random(1280),
        scale=rng.random(1280) + 0.5,
        coef=rng.normal(size=(4, 1280)) * 0.05,
        intercept=rng.normal(size=4),
    )


@pytest.mark.parametrize("multilabel", [False, True])
def test_save_load_round_trip(tmp_path: Path, multilabel: bool) -> None:
    model = _random_model(multilabel)
    features = np.random.default_rng(1).random((5, 1280), dtype=np.float32) * 3
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = TrainedModel.load(path)
    assert (loaded.num_tags, loaded.multilabel) == (4, multilabel)
    np.testing.assert_array_equal(loaded.predict_features(features), model.predict_features(features))
    with np.load(path, allow_pickle=False) as stored:  # plain arrays, no pickled objects
        assert set(stored.files) == {"meta", "mean", "scale", "coef", "intercept"}


def test_probabilities_are_softmax_or_sigmoid() -> None:
    features = np.random.default_rng(2).random((3, 1280), dtype=np.float32)
    multiclass = _random_model(False).predict_features(features)
    np.testing.assert_allclose(multiclass.sum(axis=1), 1.0, rtol=1e-5)
    multilabel = _random_model(True).predict_features(features)
    assert multilabel.shape == (3, 4) and np.all((multilabel > 0) & (multilabel < 1))
    assert not np.allclose(multilabel.sum(axis=1), 1.0)


@pytest.mark.slow
def test_trained_fruit_model_round_trips(tmp_path: Path, fruit_outcome: TrainOutcome) -> None:
    path = tmp_path / "fruit.npz"
    fruit_outcome.model.save(path)
    features = np.random.default_rng(3).random((4, 1280), dtype=np.float32) * 2
    np.testing.assert_array_equal(
        TrainedModel.load(path).predict_features(features), fruit_outcome.model.predict_features(features)
    )


def test_refuses_an_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, meta=np.array('{"format": 99}'))
    with pytest.raises(ValueError, match="format 99"):
        TrainedModel.load(path)
