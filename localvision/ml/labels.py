"""Tag index lists <-> boolean label matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def label_matrix(labels: Sequence[Sequence[int]], num_tags: int) -> np.ndarray:
    """``(n_images, num_tags)`` booleans; raises ValueError on an index outside ``0..num_tags-1``."""
    matrix = np.zeros((len(labels), num_tags), dtype=bool)
    for row, tags in enumerate(labels):
        for tag in tags:
            if not 0 <= int(tag) < num_tags:
                raise ValueError(f"image {row} has tag index {tag}, outside 0..{num_tags - 1}")
            matrix[row, int(tag)] = True
    return matrix
