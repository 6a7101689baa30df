"""The steps of a retrain cycle: sync -> train -> poll -> evaluate -> (publish -> export) -> prune.

Each step works on a run record and returns the next step, or None when it re-enqueued the run (it must
wait) or finished it. ``Steps.table`` is the explicit step -> handler table the worker dispatches on.
Every step is idempotent, so a crash or a redelivered message repeats at most the step in progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared import telemetry
from shared.errors import PermanentError, PipelineError
from shared.mirror.manifest import Manifest
from shared.mirror.report import SyncReport
from shared.mirror.sync import Mirror, Sources
from shared.retrain.context import StepContext
from shared.retrain.export import ExportStep
from shared.retrain.gate import decide, metrics_of
from shared.retrain.importer import ImportStep
from shared.runs.record import IterationInfo, Previous, Published, Status, Step
from shared.runs.store import Run

log = logging.getLogger(__name__)
SYNC_BATCHES_PER_INVOCATION = 8

Handler = Callable[[Run], Step | None]


class Steps:
    def __init__(self, context: StepContext) -> None:
        self.context = context
        self.settings, self.cv = context.settings, context.cv
        self.state_container, self.training_container = context.state_container, context.training_container
        self.save, self.enqueue, self.finish = context.save, context.enqueue, context.finish
        self.table: dict[Step, Handler] = {
            Step.SYNC: self.sync,
            Step.TRAIN: self.train,
            Step.POLL: self.poll,
            Step.EVALUATE: self.evaluate,
            Step.PUBLISH: self.publish,
            Step.EXPORT: ExportStep(context),
            Step.PRUNE: self.prune,
            Step.IMPORT: ImportStep(context).run,
        }

    def sync(self, run: Run) -> Step | None:
        record = run.record
        pid = self.cv.project_id(create=True)
        self.cv.training(lambda t: t.get_project(pid), "get project")
        record.project_id = pid
        sources = Sources(self.training_container, self.state_container)
        mirror = Mirror(self.cv, pid, sources, self.settings.negative_folder)

        def checkpoint(report: SyncReport) -> None:
            record.sync = report.counts()
            self.save(run)

        so_far = record.sync if SyncReport.started(record.sync) else None  # a continued sync adds to it
        try:
            report = mirror.run(SYNC_BATCHES_PER_INVOCATION, so_far, checkpoint)
        except ResourceNotFoundError:
            raise PermanentError("NoTrainingData", container=self.settings.training_container) from None
        record.sync = report.counts()
        if not report.complete:  # keep each invocation short: continue in a new message
            self.enqueue(run, 0)
            return None
        if not mirror.needs_training and self._completed_iterations(pid):
            reason = "No new, changed, moved or deleted training images since the last training"
            self.finish(run, Status.SKIPPED, reason=reason)
            return None
        return Step.TRAIN

    def _completed_iterations(self, pid: str) -> list[Any]:
        iterations = self.cv.training(lambda t: t.get_iterations(pid), "list iterations")
        return [i for i in iterations if i.status == "Completed"]

    def train(self, run: Run) -> Step | None:
        record = run.record
        pid = record.project_id
        iterations = self.cv.training(lambda t: t.get_iterations(pid), "list iterations")
        if record.known_iterations is None:
            record.known_iterations = [i.id for i in iterations]
            self.save(run)  # checkpoint: any iteration not in this list was started by this run
        else:
            started = [i for i in iterations if i.id not in record.known_iterations]
            if started:  # resumed after training was requested: adopt it instead of training again
                record.iteration = iteration_info(max(started, key=lambda i: i.created))
                return Step.POLL
        kind = self.settings.training_type
        budget = self.settings.training_budget_hours if kind == "Advanced" else 0
        try:
            iteration = self.cv.training(
                lambda t: t.train_project(pid, training_type=kind, reserved_budget_in_hours=budget), "train"
            )
        except PermanentError as error:
            if error.service_code == "BadRequestTrainingNotNeeded":
                self._set_needs_training(False)
                reason = "Custom Vision reports nothing changed since the last training"
                self.finish(run, Status.SKIPPED, reason=reason)
                return None
            if error.service_code == "BadRequestTrainingAlreadyInProgress":
                self.enqueue(run, self.settings.retrain_poll_seconds)
                return None
            raise
        record.iteration = iteration_info(iteration)
        return Step.POLL

    def _set_needs_training(self, value: bool) -> None:
        manifest = Manifest(self.state_container)
        if manifest.data["needsTraining"] != value:
            manifest.data["needsTraining"] = value
            manifest.save()

    def poll(self, run: Run) -> Step | None:
        record = run.record
        pid, iid = record.project_id, record.iteration.id
        iteration = self.cv.training(lambda t: t.get_iteration(pid, iid), "get iteration")
        record.polls += 1
        record.iteration.status = iteration.status
        if iteration.status == "Completed":
            self._set_needs_training(False)
            return Step.EVALUATE
        if iteration.status == "Failed":
            log.warning("run %s: training failed: %s", run.run_id, iteration.training_error_details)
            self.finish(run, Status.FAILED, error=PipelineError("TrainingFailed"))
            return None
        self.enqueue(run, self.settings.retrain_poll_seconds)
        return None

    def evaluate(self, run: Run) -> Step | None:
        record = run.record
        pid, iid = record.project_id, record.iteration.id
        threshold = self.settings.prediction_threshold
        performance = self.cv.training(
            lambda t: t.get_iteration_performance(pid, iid, threshold=threshold), "iteration performance"
        )
        record.metrics = metrics_of(performance, threshold)
        previous = self._published_iteration(pid, exclude=iid)
        if previous is not None:
            old = self.cv.training(
                lambda t: t.get_iteration_performance(pid, previous.id, threshold=threshold),
                "published performance",
            )
            record.previous = Previous(previous.id, metrics_of(old, threshold))
        with telemetry.stage("retrain gate", **{"run.id": run.run_id}):
            record.gate = decide(
                record.metrics, record.previous.metrics if record.previous else None, self.settings
            )
        return Step.PUBLISH if record.gate.passed else Step.PRUNE

    def _published_iteration(self, pid: str, exclude: str | None = None) -> Any | None:
        name = self.settings.published_name
        for iteration in self.cv.training(lambda t: t.get_iterations(pid), "list iterations"):
            if iteration.publish_name == name and iteration.id != exclude:
                return iteration
        return None

    def publish(self, run: Run) -> Step | None:
        record = run.record
        pid, iid = record.project_id, record.iteration.id
        name = self.settings.published_name
        resource = self.settings.customvision_prediction_resource_id
        iteration = self.cv.training(lambda t: t.get_iteration(pid, iid), "get iteration")
        if iteration.publish_name != name:
            previous = self._published_iteration(pid, exclude=iid)
            try:
                self.cv.training(
                    lambda t: t.publish_iteration(pid, iid, name, resource, overwrite=True), "publish"
                )
            except PermanentError:
                if previous is None:
                    raise
                # The name is still taken and the service did not move it: free it first, then publish.
                self._unpublish(pid, previous.id)
                self.cv.training(lambda t: t.publish_iteration(pid, iid, name, resource), "publish")
        previous_id = record.previous.iteration_id if record.previous else None
        if previous_id:
            old = self.cv.training(lambda t: t.get_iteration(pid, previous_id), "get previous iteration")
            if old.publish_name:
                self._unpublish(pid, previous_id)
        record.published = Published(iid, name, previous_id)
        return Step.EXPORT if self.settings.classifier_mode == "onnx" else Step.PRUNE

    def _unpublish(self, pid: str, iid: str) -> None:
        try:
            self.cv.training(lambda t: t.unpublish_iteration(pid, iid), "unpublish")
        except PermanentError as error:
            if error.service_code not in ("BadRequestIterationNotPublished", "NotFoundIteration"):
                raise

    def prune(self, run: Run) -> Step | None:
        record = run.record
        pid = record.project_id
        keep = self.settings.keep_iterations
        iterations = sorted(
            self.cv.training(lambda t: t.get_iterations(pid), "list iterations"),
            key=lambda i: i.created,
            reverse=True,
        )
        protected = {i.id for i in iterations if i.publish_name} | {record.iteration.id}
        for iteration in iterations[keep:]:
            if iteration.id in protected or iteration.status == "Training":
                continue
            try:
                self.cv.training(lambda t, i=iteration: t.delete_iteration(pid, i.id), "delete iteration")
            except PermanentError as error:
                if error.service_code != "NotFoundIteration":
                    raise
            record.pruned.append(iteration.id)
        if record.gate.passed and record.error is not None:  # published, but the export gave no model
            reason = "The iteration is published, but onnx mode keeps classifying with the previous model"
            self.finish(run, Status.FAILED, reason=reason)
        elif record.gate.passed:
            self.finish(run, Status.SUCCEEDED)
        else:
            reasons = "; ".join(record.gate.reasons)
            self.finish(
                run, Status.REJECTED, reason=f"Gate refused the iteration: {reasons}; the published one stays"
            )
        return None


def iteration_info(iteration: Any) -> IterationInfo:
    return IterationInfo(iteration.id, iteration.name, iteration.status, iteration.training_type)
