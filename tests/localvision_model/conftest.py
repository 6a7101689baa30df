"""Fixtures for the model tests: a featurizer built into a private cache, the fruit photos decoded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from devstack.photos import TAGS as FRUIT_TAGS
from devstack.photos import TEST_TAGS
from localvision.ml import Featurizer, TrainOutcome, prepare_image, train

TEST_PHOTOS = {name: FRUIT_TAGS.index(tag) for name, tag in TEST_TAGS.items()}  # photo -> label index


@dataclass
class FruitSet:
    images: list[Image.Image]
    labels: list[list[int]]


def load_photos(folder: Path) -> FruitSet:
    """Every ``folder/{apple,banana,orange}/*.jpg``, labelled by its folder's index in FRUIT_TAGS."""
    images, labels = [], []
    for index, tag in enumerate(FRUIT_TAGS):
        for path in sorted((folder / tag).glob("*.jpg")):
            images.append(prepare_image(path.read_bytes()))
            labels.append([index])
    return FruitSet(images, labels)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def featurizer(model_cache: Path) -> Featurizer:
    return Featurizer.load(model_cache)


@pytest.fixture(scope="session")
def fruit_training(fruit_dir: Path) -> FruitSet:
    return load_photos(fruit_dir / "training-images")


@pytest.fixture(scope="session")
def fruit_more(fruit_dir: Path) -> FruitSet:
    return load_photos(fruit_dir / "more-training-images")


@pytest.fixture(scope="session")
def fruit_test(fruit_dir: Path) -> FruitSet:
    folder = fruit_dir / "test-images"
    return FruitSet(
        [prepare_image((folder / name).read_bytes()) for name in TEST_PHOTOS],
        [[index] for index in TEST_PHOTOS.values()],
    )


@pytest.fixture(scope="session")
def fruit_outcome(fruit_training: FruitSet, featurizer: Featurizer) -> TrainOutcome:
    """The Quick (Regular) fruit model, as the Microsoft Learn exercise trains it."""
    return train(fruit_training.images, fruit_training.labels, len(FRUIT_TAGS), False, featurizer, seed=0)
