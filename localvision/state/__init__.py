"""The service's state and behaviour, with no HTTP, split by concern over one registry of projects.

``Backend.projects`` / ``.tags`` / ``.images`` / ``.iterations`` / ``.prediction`` / ``.exports`` are the
services; reads return frozen snapshots (``views``); errors come from ``localvision.exceptions``.
"""

from __future__ import annotations

from localvision.limits import Tier
from localvision.persistence import Store
from localvision.state.exports import ExportService
from localvision.state.images import ImageService
from localvision.state.iterations import IterationService
from localvision.state.ports import Exporter, Models, Trainer
from localvision.state.prediction import PredictionService
from localvision.state.projects import ProjectService
from localvision.state.registry import Registry
from localvision.state.tags import TagService


class Backend:
    """All projects of one server, loaded from ``store`` at start and saved on every change."""

    def __init__(self, store: Store, models: Models, tier: Tier | None = None) -> None:
        self.store = store
        registry = Registry(store)
        self.projects = ProjectService(registry, models, tier)
        self.tags = TagService(registry, tier)
        self.images = ImageService(registry, tier)
        self.iterations = IterationService(registry, models)
        self.prediction = PredictionService(registry, models)
        self.exports = ExportService(registry)

    def attach_trainer(self, trainer: Trainer) -> None:
        self.iterations.attach(trainer)

    def attach_exporter(self, exporter: Exporter) -> None:
        self.exports.attach(exporter)


__all__ = ["Backend"]
