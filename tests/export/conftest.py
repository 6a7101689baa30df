"""Fixtures for the export tests: the fruit model trained in-process, its export zips, the 54 photos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx
import pytest

from devstack.photos import TAGS as FRUIT_TAGS
from devstack.photos import TEST_TAGS as TEST_PHOTOS
from localvision.ml import Featurizer, TrainedModel, prepare_image, train
from localvision.ml.cache import ensure_model
from localvision.ml.export import export_zip

ITERATION_ID = "3d544838-88de-4561-9822-a3849df931f9"


@dataclass(frozen=True)
class Photo:
    path: Path
    tag: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def _folder_photos(folder: Path) -> list[Photo]:
    return [Photo(path, tag) for tag in FRUIT_TAGS for path in sorted((folder / tag).glob("*.jpg"))]


@pytest.fixture(scope="session")
def training_photos(fruit_dir: Path) -> list[Photo]:
    return _folder_photos(fruit_dir / "training-images")


@pytest.fixture(scope="session")
def all_photos(fruit_dir: Path, training_photos: list[Photo]) -> list[Photo]:
    """45 training + 6 more + 3 test photos."""
    tests = [Photo(fruit_dir / "test-images" / name, tag) for name, tag in TEST_PHOTOS.items()]
    return training_photos + _folder_photos(fruit_dir / "more-training-images") + tests


@pytest.fixture(scope="session")
def export_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export-model-cache")


@pytest.fixture(scope="session")
def featurizer(export_cache: Path) -> Featurizer:
    return Featurizer.load(export_cache)


@pytest.fixture(scope="session")
def feature_graph(export_cache: Path, featurizer: Featurizer) -> onnx.ModelProto:
    """The feature graph the featurizer runs (built into the private cache by the featurizer fixture)."""
    return onnx.load(ensure_model(export_cache))


@pytest.fixture(scope="session")
def fruit_model(training_photos: list[Photo], featurizer: Featurizer) -> TrainedModel:
    """The Quick fruit model, trained as localvision trains an iteration (same decode, same seed)."""
    images = [prepare_image(photo.data) for photo in training_photos]
    labels = [[FRUIT_TAGS.index(photo.tag)] for photo in training_photos]
    return train(images, labels, len(FRUIT_TAGS), False, featurizer, seed=0).model


@pytest.fixture(scope="session")
def fruit_zip(fruit_model: TrainedModel, feature_graph: onnx.ModelProto) -> bytes:
    return export_zip(fruit_model, FRUIT_TAGS, iteration_id=ITERATION_ID, features=feature_graph)
