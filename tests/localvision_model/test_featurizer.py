"""Featurizer: any image in, 1280 float32 features out, the same answer from several threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from localvision.ml import Featurizer


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (300, 500, 3), dtype=np.uint8))
    return [
        noise,
        noise.convert("L"),
        noise.convert("RGBA"),
        noise.resize((7, 5)),
        Image.new("RGB", (1600, 1200), (250, 200, 10)),
        *[noise.rotate(angle) for angle in (10, 20, 30, 40, 50)],  # more than one internal batch
    ]


def test_embeds_any_mode_and_size(featurizer: Featurizer) -> None:
    images = _images()
    features = featurizer.embed(images)
    assert features.shape == (len(images), featurizer.dimension) == (10, 1280)
    assert features.dtype == np.float32 and np.all(np.isfinite(features))
    assert featurizer.embed([]).shape == (0, 1280)
    # Batching does not change an image's features; different images get different features.
    np.testing.assert_allclose(featurizer.embed([images[7]])[0], features[7], rtol=1e-4, atol=1e-5)
    assert not np.allclose(features[0], features[4])


def test_same_features_from_concurrent_threads(featurizer: Featurizer) -> None:
    images = _images()
    serial = [featurizer.embed([image])[0] for image in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda image: featurizer.embed([image])[0], images * 3))
    for index, features in enumerate(parallel):
        np.testing.assert_allclose(features, serial[index % len(images)], rtol=1e-4, atol=1e-5)
