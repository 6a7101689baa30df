"""Augmented training views: what a photo of the same thing might look like taken slightly differently."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

from localvision.ml.graph import INPUT_SIZE


def augmented_views(image: Image.Image, count: int, rng: np.random.Generator) -> list[Image.Image]:
    """``count`` random 224x224 views: a crop of 60-100 % of the area, a mirror half the time, and
    brightness, contrast and colour each within +-20 %."""
    width, height = image.size
    views = []
    for _ in range(count):
        area = rng.uniform(0.6, 1.0) * width * height
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))) * width / height
        crop_w = min(width, max(1, round(np.sqrt(area * aspect))))
        crop_h = min(height, max(1, round(np.sqrt(area / aspect))))
        left = int(rng.integers(0, width - crop_w + 1))
        top = int(rng.integers(0, height - crop_h + 1))
        view = image.resize(
            (INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, box=(left, top, left + crop_w, top + crop_h)
        )
        if rng.random() < 0.5:
            view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            view = enhancer(view).enhance(float(rng.uniform(0.8, 1.2)))
        views.append(view)
    return views
