"""The open-set score: how much an image looks like anything the model was trained on.

Each feature vector is scaled to length 1; an image's distance to the training set is 1 minus its
cosine similarity to the nearest stored training view (nearest-neighbour distance in the normalised
feature space, as in Sun et al., 2022, "Out-of-distribution detection with deep nearest neighbors").
The edge of the training data is fitted on the training images themselves: each image's distance
to the *other* images' views (leave-one-out). The known-ness

    k(d) = sigmoid((centre - d) / width),  centre = 1.5 x the 95th percentile of those distances,
                                           width = centre / 10

is ~1 inside the training data and falls below 0.5 past the centre; the tag probabilities are
multiplied by it, so an image unlike every training image ends with every probability low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_BANK_ROWS = 2048  # stored training views: 2048 x 1280 float32 = 10 MB in the model and its export
EDGE_QUANTILE = 0.95
CENTRE_FACTOR = 1.5
WIDTH_FRACTION = 0.1
_EPSILON = 1e-12


def normalise(features: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (float32), computed as the exported graph computes them."""
    x = np.asarray(features, dtype=np.float32)
    return x / np.sqrt((x * x).sum(axis=1, keepdims=True) + np.float32(_EPSILON))


@dataclass(frozen=True)
class OpenSet:
    """The stored training views (normalised) and the fitted known-ness curve."""

    bank: np.ndarray  # (rows, dim) float32, each row of length 1
    centre: float
    width: float

    def similarity(self, features: np.ndarray) -> np.ndarray:
        """Cosine similarity ``(n,)`` of each row to its nearest stored training view."""
        return (normalise(features) @ self.bank.T).max(axis=1)

    def knownness(self, features: np.ndarray) -> np.ndarray:
        """k ``(n,)`` in (0, 1): ~1 for images like the training images, low for images unlike all."""
        return self.knownness_of_similarity(self.similarity(features))

    def knownness_of_similarity(self, similarity: np.ndarray) -> np.ndarray:
        # sigmoid((centre - (1 - s)) / width) written as sigmoid(gain * s + bias), as the graph does it
        gain, bias = self.gain_bias()
        z = np.float32(gain) * np.asarray(similarity, dtype=np.float32) + np.float32(bias)
        return (0.5 * (1.0 + np.tanh(0.5 * z.astype(np.float64)))).astype(np.float32)

    def gain_bias(self) -> tuple[float, float]:
        return 1.0 / self.width, (self.centre - 1.0) / self.width


def bank_rows(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training views kept as the bank, normalised, and the image each came from.

    Views are taken view by view (every image itself first, then every first augmented view, ...) up to
    MAX_BANK_ROWS, so a large project keeps each image before it keeps extra views of any.
    """
    n_images, n_views, dim = features.shape
    order = np.swapaxes(features, 0, 1).reshape(n_views * n_images, dim)[:MAX_BANK_ROWS]
    owners = np.tile(np.arange(n_images), n_views)[:MAX_BANK_ROWS]
    return normalise(order), owners


def fit(features: np.ndarray) -> tuple[OpenSet, np.ndarray]:
    """The open set of training ``features`` ``(n_images, views, dim)`` and each image's leave-one-out
    similarity ``(n_images,)`` (to the nearest view of another image)."""
    bank, owners = bank_rows(features)
    similarity = normalise(features[:, 0]) @ bank.T
    similarity[owners[None, :] == np.arange(len(features))[:, None]] = -1.0
    held_out = similarity.max(axis=1)
    edge = float(np.quantile(1.0 - held_out, EDGE_QUANTILE))
    centre = CENTRE_FACTOR * max(edge, 1e-3)
    return OpenSet(bank=bank, centre=centre, width=WIDTH_FRACTION * centre), held_out
