"""Timer triggers: six-field NCRONTAB (or a TimeSpan ``hh:mm:ss``), run_on_startup, use_monitor, past_due.

With the monitor on, the schedule status (Last / Next / LastUpdated) is kept in
``azure-webjobs-hosts/timers/{hostId}/{functionId}/status`` of AzureWebJobsStorage, as the host keeps it;
a start that finds ``Next`` in the past runs the function once with ``past_due=True``. Invocations of one
timer never overlap: the next occurrence is computed after the previous run ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from croniter import croniter

from devhost.config import ConfigError, parse_timespan, resolve
from devhost.indexing import FunctionSpec
from devhost.invoker import Invoker
from devhost.receipts import HOSTS_CONTAINER

log = logging.getLogger("devhost.timers")


class Schedule:
    """Next occurrences of an NCRONTAB expression (seconds first) or of a fixed TimeSpan interval."""

    def __init__(self, expression: str, what: str) -> None:
        self.expression = expression
        self.interval: float | None = None
        if re.fullmatch(r"(\d+\.)?\d{1,2}:\d{1,2}:\d{1,2}", expression.strip()):
            self.interval = parse_timespan(expression, what)
            if self.interval <= 0:
                raise ConfigError(f"{what}={expression!r} must be a positive interval")
            return
        if len(expression.split()) != 6 or not croniter.is_valid(expression, second_at_beginning=True):
            raise ConfigError(
                f"{what}={expression!r} is not a six-field NCRONTAB expression "
                "({second} {minute} {hour} {day} {month} {day-of-week}) nor a TimeSpan such as 00:05:00"
            )

    def next_after(self, moment: datetime) -> datetime:
        if self.interval is not None:
            return moment + timedelta(seconds=self.interval)
        return croniter(self.expression, moment, second_at_beginning=True).get_next(datetime)

    def default_use_monitor(self) -> bool:
        """The host monitors schedules whose interval is at least one minute."""
        first = self.next_after(datetime.now(UTC))
        return (self.next_after(first) - first) >= timedelta(minutes=1)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class TimerListener:
    def __init__(
        self,
        spec: FunctionSpec,
        hosts_storage: BlobServiceClient,
        host_id: str,
        invoker: Invoker,
        executor: Executor,
    ) -> None:
        self.spec = spec
        self.invoker = invoker
        self.executor = executor
        what = f"function '{spec.name}' timer schedule"
        self.schedule = Schedule(resolve(spec.trigger["schedule"], what), what)
        self.run_on_startup = bool(spec.trigger.get("runOnStartup"))
        use_monitor = spec.trigger.get("useMonitor")
        self.use_monitor = self.schedule.default_use_monitor() if use_monitor is None else bool(use_monitor)
        self.hosts_container = hosts_storage.get_container_client(HOSTS_CONTAINER)
        self.status_blob = self.hosts_container.get_blob_client(f"timers/{host_id}/{spec.function_id}/status")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"timer-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _read_status(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.status_blob.download_blob().readall())
        except ResourceNotFoundError:
            return None

    def _write_status(self, last: datetime | None, next_: datetime) -> None:
        status = {"Last": _iso(last), "Next": _iso(next_), "LastUpdated": _iso(datetime.now(UTC))}
        data = json.dumps(status)
        try:
            self.status_blob.upload_blob(data, overwrite=True)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                self.hosts_container.create_container()
            self.status_blob.upload_blob(data, overwrite=True)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("Timer of function '%s' stopped after an error", self.spec.name)

    def _loop(self) -> None:
        now = datetime.now(UTC)
        last: datetime | None = None
        status = self._read_status() if self.use_monitor else None
        if status:
            last = _parse(status.get("Last"))
        next_due = _parse(status.get("Next")) if status else None
        if next_due and next_due < now:
            log.info("Function '%s' is past due (was due %s); running it now", self.spec.name, _iso(next_due))
            self._fire(
                past_due=True, last=last, next_=self.schedule.next_after(now), reason="Timer fired (past due)"
            )
            last = now
        elif self.run_on_startup:
            self._fire(
                past_due=False,
                last=last,
                next_=self.schedule.next_after(now),
                reason="Timer fired on startup",
            )
        while not self._stop.is_set():
            next_at = self.schedule.next_after(datetime.now(UTC))
            if self.use_monitor:
                self._write_status(last, next_at)
            log.info("Function '%s' next runs at %s", self.spec.name, _iso(next_at))
            wait = (next_at - datetime.now(UTC)).total_seconds()
            if self._stop.wait(max(wait, 0)):
                return
            upcoming = self.schedule.next_after(next_at)
            self._fire(past_due=False, last=last, next_=upcoming, reason=f"Timer fired at {_iso(next_at)}")
            last = next_at

    def _fire(self, *, past_due: bool, last: datetime | None, next_: datetime, reason: str) -> None:
        request = func.timer.TimerRequest(
            past_due=past_due,
            schedule_status={"Last": _iso(last), "Next": _iso(next_), "LastUpdated": _iso(datetime.now(UTC))},
            schedule={"AdjustForDST": True},
        )
        future = self.executor.submit(self.invoker.invoke, self.spec, request, {}, reason)
        # A failure is logged by the invoker; a timer is not retried, the next occurrence runs as scheduled.
        with contextlib.suppress(Exception):
            future.result()
