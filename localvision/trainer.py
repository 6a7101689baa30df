"""The background trainer: one thread trains queued iterations one at a time, so no call waits for it.

It implements ``localvision.state.ports.Trainer``: the state submits (project id, iteration id); when the
turn comes the trainer asks the ledger for the job's snapshot, trains with the engine, and reports back.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Protocol

from localvision.engine import Engine, LazySequence, TrainingFailure
from localvision.faults import Faults
from localvision.jobs import JobThread
from localvision.persistence import Store
from localvision.state.ports import TrainingJob

log = logging.getLogger("localvision")


class TrainingLedger(Protocol):
    """Where jobs come from and outcomes go (``localvision.state.iterations.IterationService``)."""

    def training_job(self, project_id: str, iteration_id: str) -> TrainingJob | None: ...

    def finish_training(
        self, project_id: str, iteration_id: str, error: str | None, seconds: float = 0.0
    ) -> None: ...


class BackgroundTrainer:
    def __init__(self, ledger: TrainingLedger, engine: Engine, store: Store, faults: Faults) -> None:
        self._ledger = ledger
        self._engine = engine
        self._store = store
        self._faults = faults
        self._jobs: JobThread[tuple[str, str]] = JobThread("localvision-training", self._train)

    def submit(self, project_id: str, iteration_id: str) -> None:
        self._jobs.submit((project_id, iteration_id))

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the job in hand (if any), drop the rest, and end the thread."""
        self._jobs.stop(timeout)

    def _train(self, job: tuple[str, str]) -> None:
        project_id, iteration_id = job
        try:
            self._run(project_id, iteration_id)
        except Exception:  # keep the worker alive; the iteration ends Failed
            log.exception("training %s failed unexpectedly", iteration_id)
            self._ledger.finish_training(
                project_id, iteration_id, "Training failed: internal error, see the server log"
            )

    def _run(self, project_id: str, iteration_id: str) -> None:
        job = self._ledger.training_job(project_id, iteration_id)
        if job is None:  # deleted, or no longer training
            return
        started = time.monotonic()
        if self._faults.training_fails():
            self._ledger.finish_training(
                project_id, iteration_id, "Training failed: injected fault (--faults trainfail)"
            )
            return
        try:
            images = LazySequence(job.image_hashes, lambda sha: self._store.read_image(project_id, sha))
            out_dir = self._store.iteration_dir(project_id, iteration_id)
            images_key = hashlib.sha256("|".join(job.image_hashes).encode()).hexdigest()
            self._engine.train(
                iteration_id,
                out_dir,
                images,
                job.labels,
                job.num_tags,
                job.multilabel,
                job.advanced,
                images_key,
            )
        except TrainingFailure as error:
            self._ledger.finish_training(project_id, iteration_id, f"Training failed: {error}")
            return
        except OSError as error:  # an image went away (its project was deleted) or the disk failed
            log.warning("training %s could not read or write its files: %s", iteration_id, error)
            self._ledger.finish_training(
                project_id,
                iteration_id,
                "Training failed: its files could not be read or written; train again",
            )
            return
        self._ledger.finish_training(project_id, iteration_id, None, time.monotonic() - started)
