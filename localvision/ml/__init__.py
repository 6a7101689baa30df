"""localvision's image classifier: frozen EfficientNet-Lite0 features + a logistic-regression head."""

from localvision.ml.featurizer import Featurizer
from localvision.ml.head import TrainedModel
from localvision.ml.images import ImageDecodeError, prepare_image
from localvision.ml.metrics import Performance, TagMetrics, performance
from localvision.ml.training import TrainingError, TrainOutcome, train

__all__ = [
    "Featurizer",
    "ImageDecodeError",
    "Performance",
    "TagMetrics",
    "TrainOutcome",
    "TrainedModel",
    "TrainingError",
    "performance",
    "prepare_image",
    "train",
]
