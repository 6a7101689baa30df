"""The engine reuses the features of an unchanged training set, with the same model as a fresh training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from localvision.engine import Engine
from localvision.ml import Featurizer, train


class CountingFeaturizer:
    """The real featurizer, counting the images it embeds."""

    def __init__(self, real: Featurizer) -> None:
        self.real = real
        self.dimension = real.dimension
        self.embedded = 0

    def embed(self, images):
        self.embedded += len(images)
        return self.real.embed(images)


@pytest.fixture
def photos(fruit_dir: Path) -> tuple[list[bytes], list[list[int]]]:
    """Five apples and five bananas, as bytes."""
    data, labels = [], []
    for index, tag in enumerate(("apple", "banana")):
        for path in sorted((fruit_dir / "training-images" / tag).glob("*.jpg"))[:5]:
            data.append(path.read_bytes())
            labels.append([index])
    return data, labels


def test_a_retrain_of_the_same_images_reuses_their_features(featurizer, photos, tmp_path):
    data, labels = photos
    engine = Engine()
    counting = CountingFeaturizer(featurizer)
    engine._featurizer = counting  # the engine's lazily loaded featurizer, counted
    engine.train("first", tmp_path / "first", data, labels, 2, False, False, images_key="set-a")
    assert counting.embedded == 10 * 4  # each image and its 3 augmented views
    engine.train("second", tmp_path / "second", data, labels, 2, False, False, images_key="set-a")
    assert counting.embedded == 40  # nothing embedded again
    engine.train("advanced", tmp_path / "advanced", data, labels, 2, False, True, images_key="set-a")
    assert counting.embedded == 40 + 10 * 8  # other views: computed
    engine.train("other", tmp_path / "other", data[:9], labels[:9], 2, False, False, images_key="set-b")
    assert counting.embedded == 120 + 9 * 4

    with (
        np.load(tmp_path / "first" / "model.npz") as first,
        np.load(tmp_path / "second" / "model.npz") as second,
    ):
        assert first.files == second.files
        for name in first.files:
            np.testing.assert_array_equal(first[name], second[name])


def test_features_of_another_shape_are_refused(featurizer, fruit_training):
    images, labels = fruit_training.images[10:20], fruit_training.labels[10:20]  # apples and bananas
    with pytest.raises(ValueError, match="do not fit"):
        train(images, labels, 3, False, featurizer, features=np.zeros((9, 4, featurizer.dimension)))
