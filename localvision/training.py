"""Training jobs: one background thread trains queued iterations one at a time, so no call waits for it."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from localvision.engine import LazySequence, TrainingFailure

if TYPE_CHECKING:
    from localvision.models import Backend

log = logging.getLogger("localvision")


@dataclass(frozen=True)
class TrainingJob:
    """What an iteration trains on, copied from the state when its turn comes."""

    project_id: str
    iteration_id: str
    image_hashes: list[str]
    labels: list[list[int]]
    num_tags: int
    multilabel: bool
    advanced: bool


class TrainingQueue:
    """Runs ``backend.training_job(...)`` snapshots through the engine and reports back to the backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._jobs: queue.Queue[tuple[str, str]] = queue.Queue()
        threading.Thread(target=self._work, name="localvision-training", daemon=True).start()

    def submit(self, project_id: str, iteration_id: str) -> None:
        self._jobs.put((project_id, iteration_id))

    def _work(self) -> None:
        while True:
            project_id, iteration_id = self._jobs.get()
            try:
                self._run(project_id, iteration_id)
            except Exception:  # keep the worker alive; the iteration ends Failed
                log.exception("training %s failed unexpectedly", iteration_id)
                self._backend.finish_training(
                    project_id, iteration_id, "Training failed: internal error, see the server log"
                )

    def _run(self, project_id: str, iteration_id: str) -> None:
        backend = self._backend
        job = backend.training_job(project_id, iteration_id)
        if job is None:  # deleted, or no longer training
            return
        started = time.monotonic()
        if backend.faults.training_fails():
            reason = "Training failed: injected fault (--faults trainfail)"
            backend.finish_training(project_id, iteration_id, reason)
            return
        try:
            images = LazySequence(job.image_hashes, lambda sha: backend.store.read_image(project_id, sha))
            out_dir = backend.store.iteration_dir(project_id, iteration_id)
            backend.engine.train(
                iteration_id, out_dir, images, job.labels, job.num_tags, job.multilabel, job.advanced
            )
        except (TrainingFailure, OSError) as error:
            backend.finish_training(project_id, iteration_id, f"Training failed: {error}")
            return
        backend.finish_training(project_id, iteration_id, None, time.monotonic() - started)
