"""The retrain run record (pipeline/runs/{runId}.json): its steps, statuses and sections, typed.

Published as docs/schemas/run-record.schema.json (see docs/contracts.md). What can be computed is not
stored: a run is finished when its status is terminal (its step is then ``done``). A record of trigger
``console`` is an action taken by hand in the console (publish, unpublish or delete one iteration): it is
written once, finished, and its step is the action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from shared.contracts import encode

# 2: trigger ``console`` and the steps ``unpublish`` / ``delete`` (actions by hand). Records of version 1
# are still read (one release of overlap, as docs/contracts.md says); only version 2 is written.
SCHEMA_VERSION = 2


class Step(StrEnum):
    IMPORT = "import"
    SYNC = "sync"
    TRAIN = "train"
    POLL = "poll"
    EVALUATE = "evaluate"
    PUBLISH = "publish"
    EXPORT = "export"
    PRUNE = "prune"
    UNPUBLISH = "unpublish"  # by hand (trigger console)
    DELETE = "delete"  # by hand (trigger console)
    DONE = "done"


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self not in (Status.QUEUED, Status.RUNNING)


class Trigger(StrEnum):
    HTTP = "http"
    TIMER = "timer"
    IMPORT = "import"
    CONSOLE = "console"  # an iteration published, unpublished or deleted by hand


@dataclass
class RunError:
    code: str
    message: str


@dataclass
class SyncFailure:
    blob: str
    code: str
    message: str


@dataclass
class SyncCounts:
    """What the sync did to the project's images (a resumed sync keeps adding to the same counts).
    ``recovered``: images of a rebuilt manifest found to be the pipeline's again (no upload)."""

    listed: int = 0
    uploaded: int = 0
    retagged: int = 0
    replaced: int = 0
    deleted: int = 0
    unchanged: int = 0
    duplicates: int = 0
    recovered: int = 0
    failed: int = 0
    ignored: int = 0
    tags_created: list[str] = field(default_factory=list)
    failures: list[SyncFailure] = field(default_factory=list)
    # blobs whose content the project already had (not added again; the first 20 named)
    duplicate_blobs: list[str] = field(default_factory=list)
    warnings: list[RunError] = field(default_factory=list)  # e.g. ManifestRebuilt


@dataclass
class ImportFailure:
    image_id: str
    blob: str | None
    code: str
    message: str


@dataclass
class ImportCounts:
    """What an import did (a run of trigger ``import``): each tagged image was copied, already present, or
    failed; ``tagged`` is also how far the paging got, so a continued import goes on from there."""

    tagged: int = 0
    copied: int = 0
    already_present: int = 0
    untagged: int = 0
    failed: int = 0
    failures: list[ImportFailure] = field(default_factory=list)


@dataclass
class Timing:
    started_at: str
    finished_at: str | None = None


@dataclass
class IterationInfo:
    id: str
    name: str
    status: str
    training_type: str | None


@dataclass
class TagMetrics:
    tag_name: str
    precision: float | None
    recall: float | None
    average_precision: float | None


@dataclass
class Metrics:
    threshold: float
    precision: float | None
    recall: float | None
    average_precision: float | None
    per_tag: list[TagMetrics] = field(default_factory=list)


@dataclass
class Previous:
    iteration_id: str
    metrics: Metrics


@dataclass
class GateMetrics:
    precision: float | None
    recall: float | None
    average_precision: float | None


@dataclass
class Gate:
    passed: bool
    reasons: list[str]
    minimums: GateMetrics
    tolerance: float
    compared_with: GateMetrics | None


@dataclass
class Published:
    iteration_id: str
    published_name: str
    replaced: str | None


@dataclass
class Export:
    """The ONNX export made after publishing (onnx mode; null otherwise). ``status``: Exporting, Done,
    Failed (the service's), NotSupported (a non-compact domain), Invalid (the zip was refused)."""

    status: str
    platform: str
    flavor: str | None = None
    model_blob: str | None = None
    sha1: str | None = None


@dataclass(kw_only=True)
class RunRecord:
    """One retrain cycle: sync -> train -> poll -> evaluate -> (publish -> export) -> prune -> done; or an
    import: import -> done."""

    schema_version: Literal[1, 2] = SCHEMA_VERSION
    run_id: str
    trigger: Trigger
    created_at: str
    updated_at: str
    status: Status = Status.QUEUED
    step: Step = Step.SYNC
    reason: str | None = None
    error: RunError | None = None
    finished_at: str | None = None
    timings: dict[Step, Timing] = field(default_factory=dict)
    project_id: str | None = None
    sync: SyncCounts = field(default_factory=SyncCounts)
    iteration: IterationInfo | None = None
    known_iterations: list[str] | None = None
    metrics: Metrics | None = None
    previous: Previous | None = None
    gate: Gate | None = None
    published: Published | None = None
    export: Export | None = None
    import_counts: ImportCounts | None = None
    pruned: list[str] = field(default_factory=list)
    polls: int = 0
    seq: int = 0

    def as_json(self) -> dict[str, Any]:
        return encode(self)
