"""Predictions: with a published iteration (prediction API) or any trained one (quick test).

The model is read outside the lock; if its iteration is unpublished or deleted meanwhile, the call answers
the service's 404 NotFoundIteration, never an internal error.
"""

from __future__ import annotations

import logging

import numpy as np

from localvision import exceptions as errors
from localvision.domains import find_domain
from localvision.limits import MAX_TRAINING_IMAGE_BYTES, ImageRejected, inspect_image
from localvision.state.entities import Project, new_id, utc_now
from localvision.state.ports import Models
from localvision.state.registry import Registry
from localvision.state.views import IterationView, PredictionResult, TagPrediction

log = logging.getLogger("localvision")


class PredictionService:
    def __init__(self, registry: Registry, models: Models) -> None:
        self._registry = registry
        self._models = models

    def published_iteration(self, project_id: str, published_name: str, kind: str) -> IterationView:
        """The iteration published as ``published_name``; ``kind`` is classify or detect."""
        with self._registry.lock:
            project = self._registry.project(project_id)
            return self._published(project, published_name, kind).view()

    @staticmethod
    def _published(project: Project, published_name: str, kind: str):
        domain = find_domain(project.domain_id)
        domain_type = domain.type if domain else "Classification"
        if (kind == "detect") != (domain_type == "ObjectDetection"):
            wanted = "detect" if domain_type == "ObjectDetection" else "classify"
            raise errors.WRONG_PROJECT_KIND.error(domain_type=domain_type, kind=wanted)
        iteration = project.published(published_name)
        if iteration is None:
            raise errors.ITERATION_NOT_FOUND.error()
        return iteration

    def predict(
        self, project_id: str, published_name: str, kind: str, data: bytes, max_bytes: int
    ) -> PredictionResult:
        iteration = self.published_iteration(project_id, published_name, kind)
        return self._predict(iteration, data, max_bytes)

    def quick_test(self, project_id: str, iteration_id: str | None, data: bytes) -> PredictionResult:
        with self._registry.lock:
            project = self._registry.project(project_id)
            if iteration_id:
                iteration = project.iteration(iteration_id)
                if iteration.status != "Completed":
                    raise errors.NOT_TRAINED.error(status=iteration.status)
            else:
                iteration = project.latest_completed()
                if iteration is None:
                    raise errors.NO_DEFAULT_ITERATION.error()
            view = iteration.view()
        return self._predict(view, data, MAX_TRAINING_IMAGE_BYTES)

    def _predict(self, iteration: IterationView, data: bytes, max_bytes: int) -> PredictionResult:
        try:
            inspect_image(data, max_bytes, decode=False)
        except ImageRejected as rejected:
            raise rejected.error from None
        model_dir = self._registry.store.iteration_dir(iteration.project_id, iteration.id)
        try:
            probabilities = self._models.predict(iteration.id, model_dir, data)
        except OSError:  # the model went away: unpublished and deleted, or its project deleted
            raise errors.ITERATION_NOT_FOUND.error() from None
        except ValueError as error:
            log.info("prediction image refused: %s", error)
            raise errors.IMAGE_UNREADABLE.error() from None
        order = np.argsort(-probabilities, kind="stable")
        predictions = tuple(TagPrediction(float(probabilities[i]), iteration.tags[i]) for i in order)
        return PredictionResult(new_id(), iteration.project_id, iteration.id, utc_now(), predictions)
