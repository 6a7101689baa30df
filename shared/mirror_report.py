"""What a mirror cycle did (the run record's ``sync`` section), and the messages of its per-blob failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

FAILURE_MESSAGES: dict[str, str] = {
    "InvalidTagName": "The folder name is not a tag name Custom Vision accepts (1 to 256 characters after "
    "trimming): rename the folder",
    "TagConflict": "The folder's tag could not be created or found in the project: check the project's tags "
    "(a tag may differ only in case) and retrain",
    "TagLimitExceeded": "The project has as many tags as its tier allows: remove a tag or the folder",
    "NotAnImage": "The file is empty, unreadable or not an image: replace it with a JPEG, PNG, GIF or BMP",
    "ImageTooSmall": "The image is under 32 px on its shorter side: use a larger image",
    "ImageAspectRatio": "The image is more than 25:1: crop it",
    "ImageTooLarge": "The image has too many pixels or cannot be made smaller than 6 MB: downscale it",
    "ErrorImageFormat": "Custom Vision refused the image format: save it as JPEG or PNG",
    "ErrorImageSize": "Custom Vision refused the image size: make it smaller than 6 MB",
    "ErrorImageDimensions": "Custom Vision refused the image dimensions: resize it",
    "ErrorTagLimitExceed": "The image has more tags than Custom Vision allows",
    "ErrorNegativeAndRegularTagOnSameImage": "An image cannot be both negative and tagged: keep it in one "
    "folder only",
    "ErrorLimitExceed": "The project holds as many images as its tier allows: delete images or upgrade "
    "the tier",
    "ErrorInvalidTag": "The tag was deleted from the project during the upload: the next cycle tries again",
}
UNKNOWN_FAILURE = "Custom Vision did not take the image ({code}): the next cycle tries again"


def failure_message(code: str) -> str:
    return FAILURE_MESSAGES.get(code) or UNKNOWN_FAILURE.format(code=code)


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
            self.failures.append({"blob": blob, "code": code, "message": failure_message(code)})

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
