"""The retrain cycle's protocol: start a run, advance it one message at a time, end it.

Each queue message names a run and a sequence number. The run record is always saved before the
message that continues it is sent (the send happens only after the ETag-conditioned save succeeded), so
a worker never finds a message ahead of its record: a message whose number is not the record's is
stale and dropped. The worker does as many steps as it can without waiting (shared.retrain.steps) and
re-enqueues the run with a visibility delay when it must wait. A step that fails on every try lands on
the ``{RETRAIN_QUEUE}-poison`` queue, and ``poisoned`` ends its run as failed at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from shared import telemetry
from shared.customvision.clients import CustomVision
from shared.documents import utc_now
from shared.errors import PipelineError
from shared.mirror.manifest import Manifest
from shared.mirror.sync import Mirror
from shared.retrain.context import StepContext
from shared.retrain.steps import Steps
from shared.runs.record import RunError, RunRecord, Status, Step, Timing, Trigger
from shared.runs.store import Run, RunStore, new_record, new_run_id
from shared.settings.definitions import Settings
from shared.storage import Storage, ensure_queue

log = logging.getLogger(__name__)
RUN_ID = re.compile(r"\d{8}T\d{9}Z-[0-9a-f]{8}")
LATEST_RUNS = 20
FIRST_STEP = {Trigger.IMPORT: Step.IMPORT}  # any other trigger starts with the sync


@dataclass(frozen=True)
class Started:
    """The answer to a start: a new run, or the one already under way."""

    started: bool
    run_id: str
    status: Status
    trigger: Trigger | None  # the run's (None: its record is not written yet)


class Retrainer:
    def __init__(self, settings: Settings, storage: Storage, cv: CustomVision) -> None:
        self.settings = settings
        self.state_container = storage.container(settings.pipeline_container)
        self.training_container = storage.container(settings.training_container)
        self.queue = storage.queue(settings.retrain_queue)
        self.store = RunStore(self.state_container, settings.retrain_stale_minutes)
        self.steps = Steps(
            StepContext(
                settings,
                cv,
                self.state_container,
                self.training_container,
                self.store.save,
                self._enqueue,
                self._finish,
            )
        )

    # --- starting and reading runs ------------------------------------------------------------------

    def start(self, trigger: Trigger) -> Started:
        """Start a cycle, or return the one already running."""
        run_id = new_run_id()
        active = self.store.claim(run_id)
        if active != run_id:
            existing = self.store.load(active)
            if existing is None:
                return Started(False, active, Status.QUEUED, None)
            return Started(False, active, existing.record.status, existing.record.trigger)
        run = Run(new_record(run_id, trigger), None)
        run.record.step = FIRST_STEP.get(trigger, Step.SYNC)
        try:
            self._enqueue(run, 0)
        except Exception:
            log.exception("retrain run %s could not be queued", run_id)
            if run.etag is not None:
                self._finish(run, Status.FAILED, error=PipelineError("EnqueueFailed"))
            else:
                self.store.release(run_id)
            raise
        log.info("retrain run %s started (%s)", run_id, trigger)
        return Started(True, run_id, run.record.status, trigger)

    def has_new_training(self) -> bool:
        """True when training blobs were added, changed, moved or deleted since the last sync, or synced but
        not trained (one listing, no Custom Vision call)."""
        try:
            return Mirror.pending(
                self.training_container, self.state_container, self.settings.negative_folder
            )
        except ResourceNotFoundError:  # no training container yet
            return False

    def scheduled(self) -> Started | None:
        if not self.has_new_training():
            log.info("scheduled retrain: no new training images, no cycle started")
            return None
        return self.start(Trigger.TIMER)

    def get(self, run_id: str) -> RunRecord | None:
        if not RUN_ID.fullmatch(run_id):
            return None
        run = self.store.load(run_id)
        return run.record if run else None

    def latest(self) -> list[RunRecord]:
        return self.store.latest(LATEST_RUNS)

    def training_names(self) -> dict[str, str]:
        """Custom Vision image id -> the training blob it came from, as the last sync recorded it."""
        entries = Manifest(self.state_container, repair=False).entries()
        return {entry.image_id: name for name, entry in entries.items() if entry.image_id}

    # --- the worker ---------------------------------------------------------------------------------

    def _current(self, message: dict[str, Any]) -> Run | None:
        """The unfinished run the message continues, or None for a stale, duplicate or unknown message."""
        run_id, seq = message.get("runId"), message.get("seq")
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or not isinstance(seq, int):
            log.warning("retrain message is not {runId, seq}, ignored: %.200r", message)
            return None
        run = self.store.load(run_id)
        if run is None or run.finished:
            return None
        if seq != run.record.seq:
            log.info("run %s: message seq %s is not the record's (%s): dropped", run_id, seq, run.record.seq)
            return None
        return run

    def handle(self, message: dict[str, Any]) -> None:
        """One queue message: advance its run. A transient or unexpected error propagates (the host
        retries the message, and after maxDequeueCount tries moves it to the poison queue)."""
        run = self._current(message)
        if run is None:
            return
        try:
            self._advance(run)
        except PipelineError as error:
            if error.retryable:
                raise
            self._finish(run, Status.FAILED, error=error)

    def poisoned(self, message: dict[str, Any]) -> None:
        """The host gave up on a message: end its run as failed now, releasing the one-cycle marker."""
        run = self._current(message)
        if run is None:
            return
        step = run.record.step
        log.error(
            "retrain run %s: the %s step failed on every try; the run is ended as failed", run.run_id, step
        )
        self._finish(run, Status.FAILED, error=PipelineError("StepFailed", step=step.value))

    def _advance(self, run: Run) -> None:
        record = run.record
        if record.status is Status.QUEUED:
            record.status = Status.RUNNING
        while not run.finished:
            step = record.step
            timing = record.timings.setdefault(step, Timing(started_at=utc_now()))
            with telemetry.retrain_step(run.run_id, step.value) as span:
                next_step = self.steps.table[step](run)
                span.set_attribute("outcome", next_step.value if next_step else record.status.value)
            if next_step is None:  # waiting (re-enqueued) or finished
                return
            timing.finished_at = utc_now()
            record.step = next_step
            self.store.save(run)

    def _enqueue(self, run: Run, delay: int) -> None:
        """Continue the run in a new message: the record (with the message's number) is saved first,
        conditionally on its ETag, and the message is sent only once that save succeeded."""
        run.record.seq += 1
        self.store.save(run)
        try:
            ensure_queue(self.queue)
            self.queue.send_message(
                json.dumps({"runId": run.run_id, "seq": run.record.seq}), visibility_timeout=delay or None
            )
        except Exception:
            # Undo the number so that the message being processed, when the host redelivers it, matches.
            run.record.seq -= 1
            with contextlib.suppress(ResourceModifiedError, ResourceExistsError):
                self.store.save(run)
            raise

    def _finish(
        self, run: Run, status: Status, reason: str | None = None, error: PipelineError | None = None
    ) -> None:
        record = run.record
        record.status, record.step, record.reason, record.finished_at = status, Step.DONE, reason, utc_now()
        if error is not None:
            record.error = RunError(error.code, error.message)
        self.store.save(run)
        self.store.release(run.run_id)
        telemetry.retrain_finished(status.value, record.created_at, record.finished_at)
        log.info(
            "retrain run %s %s%s",
            run.run_id,
            status,
            f": {reason or error.message}" if reason or error else "",
        )
