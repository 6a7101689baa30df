"""localvision's image classifier: frozen EfficientNet-Lite0 features + a logistic-regression head."""

from localvision.model.featurizer import Featurizer
from localvision.model.head import TrainedModel
from localvision.model.images import ImageDecodeError, prepare_image
from localvision.model.metrics import Performance, TagMetrics, performance
from localvision.model.training import TrainingError, TrainOutcome, train

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
