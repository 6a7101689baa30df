"""What a mirror cycle did: the run record's ``sync`` section (SyncCounts) plus what only the sync needs."""

from __future__ import annotations

from dataclasses import dataclass, fields

from shared import catalogue
from shared.runs.record import RunError, SyncCounts, SyncFailure

MAX_FAILURES_LISTED = 20
# Counts that describe the listing: a resumed sync keeps its first pass's, the others add up.
LISTING_COUNTS = frozenset({"listed", "unchanged", "ignored"})
COUNTS = tuple(f.name for f in fields(SyncCounts) if f.type == "int")


def failure(blob: str, code: str) -> SyncFailure:
    """A blob the sync could not mirror, with its catalogue code and message; a Custom Vision upload status
    without an entry of its own is reported as ``UploadRefused`` naming that status."""
    entry = catalogue.CATALOGUE.get(code)
    if entry is not None and not entry.placeholders:
        return SyncFailure(blob, code, entry.message)
    status = code if code.isalnum() else "ErrorUnknown"
    return SyncFailure(blob, "UploadRefused", catalogue.text("UploadRefused", status=status))


@dataclass
class SyncReport(SyncCounts):
    """The counts of one sync; ``complete`` when nothing is left to do (else the sync continues in a new
    invocation, adding to these counts)."""

    complete: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.uploaded or self.retagged or self.replaced or self.deleted)

    def fail(self, blob: str, code: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_FAILURES_LISTED:
            self.failures.append(failure(blob, code))

    def duplicate(self, blob: str) -> None:
        self.duplicates += 1
        if len(self.duplicate_blobs) < MAX_FAILURES_LISTED:
            self.duplicate_blobs.append(blob)

    def warn(self, code: str, **values: str) -> None:
        self.warnings.append(RunError(code, catalogue.text(code, **values)))

    def continued(self, previous: SyncCounts) -> SyncReport:
        """This pass added to an earlier pass of the same sync (listing counts stay the first pass's)."""
        merged = SyncReport(complete=self.complete)
        for name in COUNTS:
            ours, theirs = getattr(self, name), getattr(previous, name)
            setattr(merged, name, theirs if name in LISTING_COUNTS else ours + theirs)
        merged.tags_created = previous.tags_created + [
            t for t in self.tags_created if t not in previous.tags_created
        ]
        merged.failures = (previous.failures + self.failures)[:MAX_FAILURES_LISTED]
        merged.duplicate_blobs = (previous.duplicate_blobs + self.duplicate_blobs)[:MAX_FAILURES_LISTED]
        merged.warnings = previous.warnings + self.warnings
        return merged

    def counts(self) -> SyncCounts:
        """The run record's section."""
        return SyncCounts(**{f.name: getattr(self, f.name) for f in fields(SyncCounts)})

    @staticmethod
    def started(counts: SyncCounts) -> bool:
        """Whether an earlier pass of this sync counted anything (else there is nothing to add to)."""
        return any(getattr(counts, name) for name in COUNTS) or bool(counts.tags_created)
