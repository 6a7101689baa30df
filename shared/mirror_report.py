"""What a mirror cycle did (the run record's ``sync`` section)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared import catalogue

MAX_FAILURES_LISTED = 20
COUNTS = (
    "listed",
    "uploaded",
    "retagged",
    "replaced",
    "deleted",
    "unchanged",
    "duplicates",
    "failed",
    "ignored",
)
# Counts that describe the listing: a resumed sync keeps its first pass's, the others add up.
LISTING_COUNTS = frozenset({"listed", "unchanged", "ignored"})


def failure(blob: str, code: str) -> dict[str, str]:
    """A blob the sync could not mirror, with its catalogue code and message; a Custom Vision upload status
    without an entry of its own is reported as ``UploadRefused`` naming that status."""
    entry = catalogue.CATALOGUE.get(code)
    if entry is not None and not entry.placeholders:
        return {"blob": blob, "code": code, "message": entry.message}
    status = code if code.isalnum() else "ErrorUnknown"
    return {"blob": blob, "code": "UploadRefused", "message": catalogue.text("UploadRefused", status=status)}


@dataclass
class SyncReport:
    """Counts of one sync; ``changed`` when the project's training set changed, ``complete`` when nothing is
    left to do (else the sync continues in a new invocation, adding to these counts)."""

    listed: int = 0
    uploaded: int = 0
    retagged: int = 0
    replaced: int = 0
    deleted: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: int = 0
    ignored: int = 0
    tags_created: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    complete: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.uploaded or self.retagged or self.replaced or self.deleted)

    def fail(self, blob: str, code: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_FAILURES_LISTED:
            self.failures.append(failure(blob, code))

    def continued(self, previous: SyncReport) -> SyncReport:
        """This pass added to an earlier pass of the same sync (listing counts stay the first pass's)."""
        merged = SyncReport(complete=self.complete)
        for name in COUNTS:
            ours, theirs = getattr(self, name), getattr(previous, name)
            setattr(merged, name, theirs if name in LISTING_COUNTS else ours + theirs)
        merged.tags_created = previous.tags_created + [
            t for t in self.tags_created if t not in previous.tags_created
        ]
        merged.failures = (previous.failures + self.failures)[:MAX_FAILURES_LISTED]
        return merged

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {name: getattr(self, name) for name in COUNTS}
        record["tagsCreated"] = list(self.tags_created)
        record["failures"] = [dict(f) for f in self.failures]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> SyncReport | None:
        """The report a run record holds, or None when no pass has counted anything yet."""
        record = record or {}
        report = cls(**{name: int(record.get(name) or 0) for name in COUNTS})
        report.tags_created = list(record.get("tagsCreated") or [])
        report.failures = [dict(f) for f in record.get("failures") or []]
        started = any(getattr(report, name) for name in COUNTS) or report.tags_created
        return report if started else None
