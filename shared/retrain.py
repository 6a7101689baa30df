"""The retrain cycle: sync -> train -> poll -> evaluate -> (publish) -> prune, one step at a time.

Each queue message names a run (and a sequence number); the worker resumes at the step checkpointed in
the run record, does as many steps as it can without waiting, and when it must wait (training runs,
or a long sync continues) it re-enqueues the run with a visibility delay and returns. Every step is
idempotent, so a crash or a redelivered message repeats at most the step that was in progress.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.customvision import CustomVision
from shared.documents import utc_now
from shared.errors import PermanentError, PipelineError, TransientError
from shared.gate import decide, metrics_of
from shared.runs import Run, RunStore, new_record, new_run_id
from shared.settings import Settings
from shared.storage import Storage, ensure_queue
from shared.training_sync import Manifest, Mirror, Sources, SyncReport

log = logging.getLogger(__name__)
RUN_ID = re.compile(r"\d{8}T\d{9}Z-[0-9a-f]{8}")
# host.json extensions.queues.maxDequeueCount: on the last try a failing run is marked failed.
MAX_DEQUEUE_COUNT = 5
RECORD_CATCH_UP_SECONDS = 5.0
SYNC_BATCHES_PER_INVOCATION = 8
LATEST_RUNS = 20


class Retrainer:
    def __init__(self, settings: Settings, storage: Storage, cv: CustomVision) -> None:
        self.settings = settings
        self.cv = cv
        self.pipeline = storage.container(settings["PIPELINE_CONTAINER"])
        self.training = storage.container(settings["TRAINING_CONTAINER"])
        self.queue = storage.queue(settings["RETRAIN_QUEUE"])
        self.store = RunStore(self.pipeline, settings["RETRAIN_STALE_MINUTES"])

    # --- starting and reading runs ------------------------------------------------------------------

    def start(self, trigger: str) -> tuple[bool, dict[str, Any]]:
        """Start a cycle, or return the one already running: (started, run record)."""
        run_id = new_run_id()
        active = self.store.claim(run_id)
        if active != run_id:
            existing = self.store.load(active)
            return False, existing.data if existing else {"runId": active, "status": "queued"}
        run = Run(new_record(run_id, trigger), None)
        self.store.save(run)
        try:
            self._enqueue(run, delay=0)
        except Exception as exc:
            self._finish(
                run, "failed", error=PipelineError("EnqueueFailed", f"Could not queue the run: {exc}")
            )
            raise
        log.info("retrain run %s started (%s)", run_id, trigger)
        return True, run.data

    def has_new_training(self) -> bool:
        """True when training blobs were added, changed, moved or deleted since the last sync, or synced but
        not trained (one listing, no Custom Vision call)."""
        try:
            return Mirror.pending(self.training, self.pipeline, self.settings["NEGATIVE_FOLDER"])
        except ResourceNotFoundError:  # no training container yet
            return False

    def scheduled(self) -> dict[str, Any] | None:
        if not self.has_new_training():
            log.info("scheduled retrain: no new training images, no cycle started")
            return None
        return self.start("schedule")[1]

    def get(self, run_id: str) -> dict[str, Any] | None:
        if not RUN_ID.fullmatch(run_id):
            return None
        run = self.store.load(run_id)
        return run.data if run else None

    def latest(self) -> list[dict[str, Any]]:
        return self.store.latest(LATEST_RUNS)

    # --- the worker ---------------------------------------------------------------------------------

    def handle(self, message: dict[str, Any], dequeue_count: int) -> None:
        run_id, seq = str(message.get("runId", "")), message.get("seq")
        run = self.store.load(run_id)
        # _enqueue sends a message before it records the message's sequence number, so a worker can see
        # the message a moment before the record: wait briefly for the record to catch up.
        deadline = time.monotonic() + RECORD_CATCH_UP_SECONDS
        while run and not run.terminal and isinstance(seq, int) and seq > run.data["seq"]:
            if time.monotonic() > deadline:
                raise TransientError(
                    "RunRecordBehind",
                    f"run {run_id}: message seq {seq} is ahead of the record ({run.data['seq']}); "
                    "the message will be delivered again",
                )
            time.sleep(0.1)
            run = self.store.load(run_id)
        if run is None or run.terminal:
            return
        if seq != run.data["seq"]:
            log.info(
                "run %s: message seq %s is stale (now %s), dropped",
                run.run_id,
                message.get("seq"),
                run.data["seq"],
            )
            return
        try:
            self._advance(run)
        except PipelineError as error:
            if error.retryable and dequeue_count < MAX_DEQUEUE_COUNT:
                raise
            self._finish(run, "failed", error=error)
        except Exception as exc:
            if dequeue_count >= MAX_DEQUEUE_COUNT:
                self._finish(
                    run, "failed", error=PipelineError("InternalError", f"{type(exc).__name__}: {exc}")
                )
            raise

    def _advance(self, run: Run) -> None:
        if run.data["status"] == "queued":
            run.data["status"] = "running"
        while not run.terminal:
            step = run.data["step"]
            timing = run.data["timings"].setdefault(step, {"startedAt": utc_now(), "finishedAt": None})
            next_step = getattr(self, f"_{step}")(run)
            if next_step is None:  # waiting (re-enqueued) or finished
                return
            timing["finishedAt"] = utc_now()
            run.data["step"] = next_step
            self.store.save(run)

    def _enqueue(self, run: Run, delay: int) -> None:
        """Queue the next message first, then record its sequence number: a lost save leaves a duplicate
        message at worst, which the sequence check drops."""
        seq = run.data["seq"] + 1
        ensure_queue(self.queue)
        self.queue.send_message(
            json.dumps({"runId": run.run_id, "seq": seq}), visibility_timeout=delay or None
        )
        run.data["seq"] = seq
        self.store.save(run)

    def _finish(
        self, run: Run, status: str, reason: str | None = None, error: PipelineError | None = None
    ) -> None:
        run.data.update(status=status, step="done", reason=reason, finishedAt=utc_now())
        if error is not None:
            run.data["error"] = {"code": error.code, "message": error.message}
        self.store.save(run)
        self.store.release(run.run_id)
        log.info(
            "retrain run %s %s%s",
            run.run_id,
            status,
            f": {reason or error.message}" if reason or error else "",
        )

    # --- the steps: each returns the next step, or None after re-enqueueing or finishing ---------------

    def _sync(self, run: Run) -> str | None:
        pid = self.cv.project_id(create=True)
        self.cv.training(lambda t: t.get_project(pid), "get project")
        run.data["projectId"] = pid
        mirror = Mirror(self.cv, pid, Sources(self.training, self.pipeline), self.settings["NEGATIVE_FOLDER"])

        def checkpoint(report: SyncReport) -> None:
            run.data["sync"] = report.as_record()
            self.store.save(run)

        try:  # a continued sync adds to the counts of its first pass
            report = mirror.run(
                SYNC_BATCHES_PER_INVOCATION, SyncReport.from_record(run.data["sync"]), checkpoint
            )
        except ResourceNotFoundError:
            raise PermanentError(
                "NoTrainingData",
                f"The training container {self.settings['TRAINING_CONTAINER']!r} (TRAINING_CONTAINER) does "
                "not exist: put labelled images in it as {tag}/{file}",
            ) from None
        run.data["sync"] = report.as_record()
        if not report.complete:  # keep each invocation short: continue in a new message
            self._enqueue(run, delay=0)
            return None
        if not mirror.needs_training and self._completed_iterations(pid):
            self._finish(
                run,
                "skipped",
                reason="No new, changed, moved or deleted training images since the last training",
            )
            return None
        return "train"

    def _completed_iterations(self, pid: str) -> list[Any]:
        iterations = self.cv.training(lambda t: t.get_iterations(pid), "list iterations")
        return [i for i in iterations if i.status == "Completed"]

    def _train(self, run: Run) -> str | None:
        pid = run.data["projectId"]
        iterations = self.cv.training(lambda t: t.get_iterations(pid), "list iterations")
        if run.data["knownIterations"] is None:
            run.data["knownIterations"] = [i.id for i in iterations]
            self.store.save(run)  # checkpoint: any iteration not in this list was started by this run
        else:
            started = [i for i in iterations if i.id not in run.data["knownIterations"]]
            if started:  # resumed after training was requested: adopt it instead of training again
                self._set_iteration(run, max(started, key=lambda i: i.created))
                return "poll"
        budget = self.settings["TRAINING_BUDGET_HOURS"] if self.settings["TRAINING_TYPE"] == "Advanced" else 0
        try:
            iteration = self.cv.training(
                lambda t: t.train_project(
                    pid, training_type=self.settings["TRAINING_TYPE"], reserved_budget_in_hours=budget
                ),
                "train",
            )
        except PermanentError as error:
            if error.code == "BadRequestTrainingNotNeeded":
                self._set_needs_training(False)
                self._finish(
                    run, "skipped", reason="Custom Vision reports nothing changed since the last training"
                )
                return None
            if error.code == "BadRequestTrainingAlreadyInProgress":
                self._enqueue(run, delay=self.settings["RETRAIN_POLL_SECONDS"])
                return None
            raise
        self._set_iteration(run, iteration)
        return "poll"

    @staticmethod
    def _set_iteration(run: Run, iteration: Any) -> None:
        run.data["iteration"] = {
            "id": iteration.id,
            "name": iteration.name,
            "status": iteration.status,
            "trainingType": iteration.training_type,
        }

    def _set_needs_training(self, value: bool) -> None:
        manifest = Manifest(self.pipeline)
        if manifest.data["needsTraining"] != value:
            manifest.data["needsTraining"] = value
            manifest.save()

    def _poll(self, run: Run) -> str | None:
        pid, iid = run.data["projectId"], run.data["iteration"]["id"]
        iteration = self.cv.training(lambda t: t.get_iteration(pid, iid), "get iteration")
        run.data["polls"] += 1
        run.data["iteration"]["status"] = iteration.status
        if iteration.status == "Completed":
            self._set_needs_training(False)
            return "evaluate"
        if iteration.status == "Failed":
            details = iteration.training_error_details or "no details given"
            self._finish(run, "failed", error=PipelineError("TrainingFailed", f"Training failed: {details}"))
            return None
        self._enqueue(run, delay=self.settings["RETRAIN_POLL_SECONDS"])
        return None

    def _evaluate(self, run: Run) -> str | None:
        pid, iid = run.data["projectId"], run.data["iteration"]["id"]
        threshold = self.settings["PREDICTION_THRESHOLD"]
        performance = self.cv.training(
            lambda t: t.get_iteration_performance(pid, iid, threshold=threshold), "iteration performance"
        )
        run.data["metrics"] = metrics_of(performance, threshold)
        previous = self._published_iteration(pid, exclude=iid)
        if previous is not None:
            old = self.cv.training(
                lambda t: t.get_iteration_performance(pid, previous.id, threshold=threshold),
                "published performance",
            )
            run.data["previous"] = {"iterationId": previous.id, "metrics": metrics_of(old, threshold)}
        previous_metrics = run.data["previous"]["metrics"] if run.data["previous"] else None
        run.data["gate"] = decide(run.data["metrics"], previous_metrics, self.settings)
        return "publish" if run.data["gate"]["passed"] else "prune"

    def _published_iteration(self, pid: str, exclude: str | None = None) -> Any | None:
        name = self.settings["PUBLISHED_NAME"]
        for iteration in self.cv.training(lambda t: t.get_iterations(pid), "list iterations"):
            if iteration.publish_name == name and iteration.id != exclude:
                return iteration
        return None

    def _publish(self, run: Run) -> str | None:
        pid, iid = run.data["projectId"], run.data["iteration"]["id"]
        name = self.settings["PUBLISHED_NAME"]
        resource = self.settings["CUSTOMVISION_PREDICTION_RESOURCE_ID"]
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
        previous_id = (run.data["previous"] or {}).get("iterationId")
        if previous_id:
            old = self.cv.training(lambda t: t.get_iteration(pid, previous_id), "get previous iteration")
            if old.publish_name:
                self._unpublish(pid, previous_id)
        run.data["published"] = {"iterationId": iid, "publishedName": name, "replaced": previous_id}
        return "prune"

    def _unpublish(self, pid: str, iid: str) -> None:
        try:
            self.cv.training(lambda t: t.unpublish_iteration(pid, iid), "unpublish")
        except PermanentError as error:
            if error.code not in ("BadRequestIterationNotPublished", "NotFoundIteration"):
                raise

    def _prune(self, run: Run) -> str | None:
        pid = run.data["projectId"]
        keep = self.settings["KEEP_ITERATIONS"]
        iterations = sorted(
            self.cv.training(lambda t: t.get_iterations(pid), "list iterations"),
            key=lambda i: i.created,
            reverse=True,
        )
        protected = {i.id for i in iterations if i.publish_name} | {run.data["iteration"]["id"]}
        for iteration in iterations[keep:]:
            if iteration.id in protected or iteration.status == "Training":
                continue
            try:
                self.cv.training(lambda t, i=iteration: t.delete_iteration(pid, i.id), "delete iteration")
            except PermanentError as error:
                if error.code != "NotFoundIteration":
                    raise
            run.data["pruned"].append(iteration.id)
        gate = run.data["gate"]
        if gate["passed"]:
            self._finish(run, "succeeded")
        else:
            reason = "Gate refused the iteration: " + "; ".join(gate["reasons"]) + "; the published one stays"
            self._finish(run, "rejected", reason=reason)
        return None
