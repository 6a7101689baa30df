"""Run records of actions taken by hand in the console: an iteration published, unpublished or deleted.

The gate stays the default path; each action by hand still leaves a finished run record of trigger
``console`` (its step is the action) so the runs history shows what was done outside a cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from azure.core.exceptions import AzureError

from shared.documents import utc_now
from shared.errors import PipelineError
from shared.runs.record import IterationInfo, Published, RunError, RunRecord, Status, Step, Timing, Trigger
from shared.runs.store import Run, RunStore, new_record, new_run_id

log = logging.getLogger(__name__)
Action = Literal["publish", "unpublish", "delete"]


class ManualRun:
    """What the action fills in while it runs: why (a sentence) and, for a publish, what was published."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record

    def note(self, reason: str) -> None:
        self.record.reason = reason

    def published(self, iteration_id: str, published_name: str, replaced_id: str | None) -> None:
        self.record.published = Published(iteration_id, published_name, replaced_id)


@contextmanager
def recorded(store: RunStore, action: Action, iteration: Any) -> Iterator[ManualRun]:
    """Run the action inside; then write its record: succeeded, or failed with the catalogue error that
    stopped it (raised on). ``iteration``: the SDK's Iteration the action is about."""
    step = Step(action)
    record = new_record(new_run_id(), Trigger.CONSOLE)
    record.step, record.status = step, Status.RUNNING
    record.iteration = IterationInfo(iteration.id, iteration.name, iteration.status, iteration.training_type)
    started = utc_now()
    try:
        yield ManualRun(record)
        record.status = Status.SUCCEEDED
    except PipelineError as error:
        record.status, record.error = Status.FAILED, RunError(error.code, error.message)
        raise
    except Exception:
        failed = PipelineError("ConsoleFailed")
        record.status, record.error = Status.FAILED, RunError(failed.code, failed.message)
        raise
    finally:
        record.finished_at = utc_now()
        record.timings = {step: Timing(started, record.finished_at)}
        try:
            store.save(Run(record, None))
        except AzureError:  # the action stands; only its record is missing
            log.exception("the run record of %s %s by hand could not be written", action, iteration.id)
