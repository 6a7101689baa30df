"""What the state needs from the outside, as small interfaces: a trainer, an exporter, the trained models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class TrainingJob:
    """What an iteration trains on, copied from the state when its turn comes."""

    project_id: str
    iteration_id: str
    image_hashes: tuple[str, ...]
    labels: tuple[tuple[int, ...], ...]
    num_tags: int
    multilabel: bool
    advanced: bool


@dataclass(frozen=True)
class ExportJob:
    """What an export needs, copied from the state when its turn comes."""

    project_id: str
    iteration_id: str
    platform: str
    flavor: str | None
    labels: tuple[str, ...]  # tag names in the model's output order
    domain_type: str
    file_name: str  # the zip's name: Store.put_export(project_id, iteration_id, file_name, data)


class Trainer(Protocol):
    """Trains iterations in the background; reports back through ``IterationService.finish_training``."""

    def submit(self, project_id: str, iteration_id: str) -> None: ...


class Exporter(Protocol):
    """Writes export zips in the background; reports back through ``ExportService.finish_export``."""

    #: platform -> the flavors it writes (None: the default flavor)
    flavors: dict[str, tuple[str | None, ...]]

    def submit(self, project_id: str, iteration_id: str, platform: str, flavor: str | None) -> None: ...

    def version(self) -> str:
        """Changes when the exporter or the feature model changes (newerVersionAvailable)."""
        ...


class Models(Protocol):
    """Trained models on disk and in memory (``localvision.engine.Engine``)."""

    def predict(self, iteration_id: str, model_dir: Path, data: bytes) -> np.ndarray: ...

    def performance(self, iteration_id: str, model_dir: Path, threshold: float) -> Any: ...

    def image_probabilities(self, iteration_id: str, model_dir: Path) -> np.ndarray: ...

    def forget(self, iteration_id: str) -> None: ...
