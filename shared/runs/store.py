"""Retrain run records (pipeline/runs/{runId}.json) and the one-cycle-at-a-time marker.

The marker is a blob, pipeline/active-run.json, created with ``if_none_match="*"``: of any number of
concurrent starters exactly one creates it. It is released (deleted, ETag-conditioned) when its run ends.
A marker no longer blocks when its run has ended, or its run record was not updated for
RETRAIN_STALE_MINUTES (a crashed cycle), or it names a run whose record never appeared within
MARKER_GRACE_SECONDS; a stale marker is taken over by replacing it conditionally on its ETag.
A lease was not used: a blob lease lasts at most 60 s unless renewed, and no function runs the whole cycle.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared import catalogue
from shared.contracts import ContractError, decode
from shared.documents import utc_now
from shared.runs.record import RunError, RunRecord, Status, Step, Trigger
from shared.storage import JsonBlob, ensure_container, read_json, write_json

log = logging.getLogger(__name__)
MARKER = "active-run.json"
RUNS_PREFIX = "runs/"
MARKER_GRACE_SECONDS = 120


def new_run_id() -> str:
    """Sortable by time (milliseconds): 20261125T031500123Z-1a2b3c4d."""
    now = datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{uuid.uuid4().hex[:8]}"


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def new_record(run_id: str, trigger: Trigger) -> RunRecord:
    now = utc_now()
    return RunRecord(run_id=run_id, trigger=trigger, created_at=now, updated_at=now)


@dataclass
class Run:
    """A run record and the ETag it was read or written with (every save is conditional on it)."""

    record: RunRecord
    etag: str | None

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def finished(self) -> bool:
        return self.record.status.terminal


class RunStore:
    def __init__(self, container: ContainerClient, stale_minutes: int) -> None:
        self.container = container
        self.stale = timedelta(minutes=stale_minutes)

    @staticmethod
    def _name(run_id: str) -> str:
        return f"{RUNS_PREFIX}{run_id}.json"

    def load(self, run_id: str) -> Run | None:
        found = read_json(self.container, self._name(run_id))
        if found is None:
            return None
        try:
            return Run(decode(RunRecord, found.data), found.etag)
        except ContractError as exc:
            log.error("runs/%s.json is not a run record (%s): ignored", run_id, exc)
            return None

    def save(self, run: Run) -> None:
        """Write the record; ResourceModifiedError/ResourceExistsError means someone else wrote it first."""
        run.record.updated_at = utc_now()
        ensure_container(self.container)
        run.etag = write_json(self.container, self._name(run.run_id), run.record.as_json(), if_match=run.etag)

    def latest(self, limit: int) -> list[RunRecord]:
        try:
            names = sorted(
                (b.name for b in self.container.list_blobs(name_starts_with=RUNS_PREFIX)), reverse=True
            )
        except ResourceNotFoundError:  # no pipeline container yet: no runs
            return []
        runs = []
        for name in names[:limit]:
            run = self.load(name[len(RUNS_PREFIX) : -len(".json")])
            if run:
                runs.append(run.record)
        return runs

    def is_stale(self, run: Run) -> bool:
        return datetime.now(UTC) - parse_time(run.record.updated_at) > self.stale

    # --- the marker ---------------------------------------------------------------------------------

    def claim(self, run_id: str) -> str:
        """Make ``run_id`` the active run; return the run id that is active afterwards (ours or another)."""
        ensure_container(self.container)
        body = {"runId": run_id, "createdAt": utc_now()}
        for _ in range(10):
            try:
                write_json(self.container, MARKER, body)
                return run_id
            except ResourceExistsError:
                pass
            marker = read_json(self.container, MARKER)
            if marker is None:
                continue  # released meanwhile: try to create it again
            if not self._marker_is_stale(marker):
                return marker.data["runId"]
            try:
                write_json(self.container, MARKER, body, if_match=marker.etag)
                self._abandon(marker.data["runId"])
                return run_id
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
        raise RuntimeError("Could not claim or read the active-run marker; try again")

    def _marker_is_stale(self, marker: JsonBlob) -> bool:
        run = self.load(marker.data["runId"])
        if run is None:
            age = datetime.now(UTC) - parse_time(marker.data["createdAt"])
            return age > timedelta(seconds=MARKER_GRACE_SECONDS)
        return run.finished or self.is_stale(run)

    def _abandon(self, run_id: str) -> None:
        """Mark a crashed run failed so its record tells why it stopped."""
        run = self.load(run_id)
        if run is None or run.finished:
            return
        record = run.record
        record.status, record.step, record.finished_at = Status.FAILED, Step.DONE, utc_now()
        record.error = RunError("Abandoned", catalogue.text("Abandoned"))
        with contextlib.suppress(ResourceModifiedError, ResourceExistsError):
            self.save(run)

    def release(self, run_id: str) -> None:
        marker = read_json(self.container, MARKER)
        if marker is None or marker.data.get("runId") != run_id:
            return
        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self.container.delete_blob(
                MARKER, etag=marker.etag, match_condition=MatchConditions.IfNotModified
            )
