"""One background thread that runs queued jobs one at a time (the trainer's and the exporter's)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

Job = TypeVar("Job")
_WAKE = object()  # wakes the thread so that it sees the stop


class JobThread(Generic[Job]):
    """Runs ``handle(job)`` for each submitted job, in order, on its own daemon thread; ``handle`` deals
    with its own failures. ``stop`` lets the job in hand finish and drops the rest: they start again with
    the next server on the same data."""

    def __init__(self, name: str, handle: Callable[[Job], None]) -> None:
        self._handle = handle
        self._jobs: queue.Queue[Job | object] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._jobs.put(_WAKE)
        self._thread.join(timeout)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if self._stopping.is_set():
                return
            self._handle(cast(Job, job))  # _WAKE, the one non-job, only comes after the stop
