"""Iterations: start a training, hand its job to the trainer, record the outcome; rename, delete, publish.

Training itself runs behind the ``Trainer`` interface (``localvision.state.ports``): this module only
records what the trainer reports, and cleans up what a training left behind for a deleted project.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from localvision import exceptions as errors
from localvision.domains import find_domain
from localvision.limits import MAX_ITERATIONS
from localvision.state.entities import Iteration, new_id, utc_now
from localvision.state.ports import Models, Trainer, TrainingJob
from localvision.state.registry import Registry, retry_on_conflict
from localvision.state.validation import EMAIL, check_publish, check_training_type
from localvision.state.views import ImagePerformance, IterationView, TagPrediction

log = logging.getLogger("localvision")


class IterationService:
    def __init__(self, registry: Registry, models: Models) -> None:
        self._registry = registry
        self._models = models
        self._trainer: Trainer | None = None

    def attach(self, trainer: Trainer) -> None:
        """Connect the trainer and resume the iterations a stop interrupted."""
        self._trainer = trainer
        with self._registry.lock:
            for project in self._registry.projects.values():
                for iteration in project.iterations.values():
                    if iteration.status == "Training":
                        trainer.submit(project.id, iteration.id)

    # ----- training -----

    @retry_on_conflict
    def train(
        self,
        project_id: str,
        training_type: str | None = None,
        reserved_budget_in_hours: int = 0,
        force: bool = False,
        notification_email: str | None = None,
        selected_tags: Sequence[str] | None = None,
    ) -> IterationView:
        training_type = check_training_type(training_type or "Regular")
        if training_type == "Advanced" and reserved_budget_in_hours < 1:
            raise errors.ADVANCED_BUDGET.error()
        if notification_email and not EMAIL.match(notification_email):
            raise errors.EMAIL.error(value=notification_email)
        registry = self._registry
        with registry.lock:
            project = registry.project(project_id)
            domain = find_domain(project.domain_id)
            if domain is None or domain.type != "Classification":
                raise errors.UNSUPPORTED_DOMAIN.error()
            if project.is_training():
                raise errors.ALREADY_TRAINING.error()
            if len(project.iterations) >= MAX_ITERATIONS:
                raise errors.ITERATION_LIMIT.error(limit=MAX_ITERATIONS)
            tags, training_set, fingerprint = project.training_set(selected_tags)
            latest = project.latest_completed()
            if not force and latest is not None and latest.fingerprint == fingerprint:
                raise errors.NOT_NEEDED.error()
            project.iteration_counter += 1
            now = utc_now()
            iteration = Iteration(
                id=new_id(),
                name=f"Iteration {project.iteration_counter}",
                number=project.iteration_counter,
                status="Training",
                created=now,
                last_modified=now,
                project_id=project.id,
                domain_id=project.domain_id,
                classification_type=project.classification_type,
                training_type=training_type,
                reserved_budget_in_hours=reserved_budget_in_hours,
                fingerprint=fingerprint,
                tags=tags,
                training_set=training_set,
            )
            project.iterations[iteration.id] = iteration
            registry.save(project)
            view = iteration.view()
        if self._trainer is not None:
            self._trainer.submit(project.id, iteration.id)
        return view

    def training_job(self, project_id: str, iteration_id: str) -> TrainingJob | None:
        """The snapshot an iteration trains on, or None if it was deleted or is not training."""
        with self._registry.lock:
            project = self._registry.projects.get(project_id)
            iteration = project.iterations.get(iteration_id) if project else None
            if iteration is None or iteration.status != "Training":
                return None
            return TrainingJob(
                project_id=project_id,
                iteration_id=iteration_id,
                image_hashes=tuple(sha for _, sha, _ in iteration.training_set),
                labels=tuple(tuple(labels) for _, _, labels in iteration.training_set),
                num_tags=len(iteration.tags),
                multilabel=iteration.classification_type == "Multilabel",
                advanced=iteration.training_type == "Advanced",
            )

    @retry_on_conflict
    def finish_training(
        self, project_id: str, iteration_id: str, error: str | None, seconds: float = 0.0
    ) -> None:
        """Keep the model files, record the outcome; if the project or iteration went away meanwhile,
        remove what training wrote."""
        registry = self._registry
        if error is None:
            try:
                registry.store.save_iteration(project_id, iteration_id)
            except Exception:  # the store could not take the model: the iteration ends Failed
                log.exception("saving the model files of %s failed", iteration_id)
                error = "Training failed: its model could not be saved; train again"
        with registry.lock:
            project = registry.projects.get(project_id)
            iteration = project.iterations.get(iteration_id) if project else None
            if iteration is None:
                self._models.forget(iteration_id)
                if project is None:
                    registry.store.delete_project(project_id)
                else:
                    registry.store.delete_iteration(project_id, iteration_id)
                return
            iteration.finish(error, seconds)
            registry.save(project)

    # ----- iterations -----

    def list(self, project_id: str) -> list[IterationView]:
        with self._registry.lock:
            return [iteration.view() for iteration in self._registry.project(project_id).iterations.values()]

    def get(self, project_id: str, iteration_id: str) -> IterationView:
        with self._registry.lock:
            return self._registry.project(project_id).iteration(iteration_id).view()

    @retry_on_conflict
    def rename(self, project_id: str, iteration_id: str, name: str | None) -> IterationView:
        name = (name or "").strip()
        if not name:
            raise errors.ITERATION_NAME.error()
        with self._registry.lock:
            project = self._registry.project(project_id)
            iteration = project.iteration(iteration_id)
            if any(other.name == name and other.id != iteration.id for other in project.iterations.values()):
                raise errors.ITERATION_NAME_NOT_UNIQUE.error(name=name)
            iteration.name = name
            iteration.last_modified = utc_now()
            self._registry.save(project)
            return iteration.view()

    @retry_on_conflict
    def delete(self, project_id: str, iteration_id: str) -> None:
        registry = self._registry
        with registry.lock:
            project = registry.project(project_id)
            iteration = project.iteration(iteration_id)
            if iteration.publish_name:
                raise errors.ITERATION_PUBLISHED.error(name=iteration.publish_name)
            del project.iterations[iteration.id]
            registry.save(project)
            self._models.forget(iteration.id)
            registry.store.delete_iteration(project.id, iteration.id)

    @retry_on_conflict
    def publish(
        self,
        project_id: str,
        iteration_id: str,
        publish_name: str | None,
        prediction_id: str | None,
        overwrite: bool,
    ) -> None:
        publish_name = check_publish(publish_name, prediction_id)
        with self._registry.lock:
            project = self._registry.project(project_id)
            iteration = project.iteration(iteration_id)
            if iteration.status != "Completed":
                raise errors.NOT_TRAINED.error(status=iteration.status)
            holder = project.published(publish_name)
            if holder is not None and holder.id != iteration.id:
                if not overwrite:
                    raise errors.PUBLISH_NAME_TAKEN.error(name=publish_name, holder=holder.name)
                holder.unpublish()
            iteration.publish(publish_name, prediction_id or "")
            self._registry.save(project)

    @retry_on_conflict
    def unpublish(self, project_id: str, iteration_id: str) -> None:
        with self._registry.lock:
            project = self._registry.project(project_id)
            iteration = project.iteration(iteration_id)
            if not iteration.publish_name:
                raise errors.NOT_PUBLISHED.error()
            iteration.unpublish()
            self._registry.save(project)

    def _evaluated(self, project_id: str, iteration_id: str):
        """(project, iteration) of a Completed iteration (the registry's lock held); else the service's
        refusal."""
        project = self._registry.project(project_id)
        iteration = project.iteration(iteration_id)
        if iteration.status != "Completed":
            raise errors.NO_PERFORMANCE.error(status=iteration.status)
        return project, iteration

    def performance(self, project_id: str, iteration_id: str, threshold: float):
        """(iteration snapshot, metrics at ``threshold``); NotFoundIteration if it goes away meanwhile."""
        if not 0.0 <= threshold <= 1.0:
            raise errors.THRESHOLD.error()
        with self._registry.lock:
            _, iteration = self._evaluated(project_id, iteration_id)
            view = iteration.view()
        model_dir = self._registry.store.iteration_dir(view.project_id, view.id)
        try:
            return view, self._models.performance(view.id, model_dir, threshold)
        except OSError:  # deleted while we read it
            raise errors.ITERATION_NOT_FOUND.error() from None

    def image_performances(
        self, project_id: str, iteration_id: str, tag_ids: Sequence[str] = (), order_by: str | None = None
    ) -> list[ImagePerformance]:
        """Each training image of a Completed iteration still in the project, with its out-of-fold
        prediction; ``tag_ids``: only images trained with one of them; Newest (default) or Oldest first."""
        order = (order_by or "Newest").lower()
        if order not in ("newest", "oldest"):
            raise errors.ORDER_BY.error(value=order_by)
        wanted = {tag_id.lower() for tag_id in tag_ids}
        with self._registry.lock:
            project, iteration = self._evaluated(project_id, iteration_id)
            view = iteration.view()
            members = []  # (row in the evaluation, image snapshot), in upload order
            rows = {image_id: row for row, (image_id, _, _) in enumerate(iteration.training_set)}
            trained = {image_id: labels for image_id, _, labels in iteration.training_set}
            for image in project.images.values():
                row = rows.get(image.id)
                if row is None:
                    continue
                if wanted and not wanted.intersection(view.tags[i].id for i in trained[image.id]):
                    continue
                members.append((row, image.view(project)))
        model_dir = self._registry.store.iteration_dir(view.project_id, view.id)
        try:
            probabilities = self._models.image_probabilities(view.id, model_dir)
        except OSError:  # deleted while we read it
            raise errors.ITERATION_NOT_FOUND.error() from None
        if order == "newest":
            members.reverse()
        result = []
        for row, image in members:
            ranked = np.argsort(-probabilities[row], kind="stable")
            predictions = tuple(TagPrediction(float(probabilities[row][i]), view.tags[i]) for i in ranked)
            result.append(ImagePerformance(image, predictions))
        return result
