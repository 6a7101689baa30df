"""The HTTP endpoints' logic, free of azure.functions: each handler returns a Reply.

Every error reply is ``{"error": {"code", "message"}}`` with the catalogue's message (shared.catalogue).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from shared import catalogue, documents, fetch
from shared.classify.classifier import Classifier
from shared.documents import QuickSource
from shared.errors import TransientError
from shared.retrain.cycle import Retrainer, Started
from shared.runs.record import Trigger
from shared.settings.definitions import Settings

log = logging.getLogger(__name__)
# Error codes of a quick-test result and the HTTP status they are answered with.
IMAGE_ERRORS = frozenset({"NotAnImage", "ImageTooSmall", "ImageTooLarge", "ImageAspectRatio"})
MODEL_ERRORS = frozenset(
    {
        "NoPublishedModel",
        "ProjectNotFound",
        "ModelInvalid",
        "ModelChecksumMismatch",
        "ModelInputUnsupported",
        "ModelOutputUnsupported",
        "ModelPointerInvalid",
        "ModelRefused",
    }
)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> str:
        return json.dumps(self.body, indent=2, ensure_ascii=False)


def problem(status: int, code: str, **values: str | int | float) -> Reply:
    return Reply(status, {"error": {"code": code, "message": catalogue.text(code, **values)}})


def status_url(request_url: str, run_id: str) -> str:
    """/api/retrain/{runId} next to the request's /api/retrain (query string dropped)."""
    base = request_url.split("?", 1)[0].rstrip("/")
    if not base.endswith("/retrain"):
        base = base.rsplit("/", 1)[0]
    return f"{base}/{run_id}"


def _started(started: Started, url: str) -> Reply:
    """202 with a new run; 200 with the running one (a retrain or an import) when one is under way."""
    body = {
        "runId": started.run_id,
        "status": started.status.value,
        "statusUrl": url,
        "started": started.started,
        "trigger": started.trigger.value if started.trigger else None,
    }
    return Reply(202 if started.started else 200, body, {"Location": url})


def retrain_start(retrainer: Retrainer, request_url: str) -> Reply:
    started = retrainer.start(Trigger.HTTP)
    return _started(started, status_url(request_url, started.run_id))


def import_start(retrainer: Retrainer, request_url: str) -> Reply:
    """POST /api/training/import: an import run, one at a time with retrain cycles (the same marker);
    its status is served by GET /api/retrain/{runId} like any run's."""
    started = retrainer.start(Trigger.IMPORT)
    base = request_url.split("?", 1)[0].rstrip("/").removesuffix("/training/import")
    return _started(started, f"{base}/retrain/{started.run_id}")


def retrain_runs(retrainer: Retrainer) -> Reply:
    return Reply(200, {"runs": [run.as_json() for run in retrainer.latest()]})


def retrain_status(retrainer: Retrainer, run_id: str) -> Reply:
    run = retrainer.get(run_id)
    if run is None:
        return problem(404, "RunNotFound")
    return Reply(200, run.as_json())


def _requested_url(body: bytes) -> str | None:
    """The "url" of a JSON body, or None when the body does not parse, is too deep, or has none."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        log.info("quick test: body is not JSON: %s", type(exc).__name__)
        return None
    url = request.get("url") if isinstance(request, dict) else None
    return url if isinstance(url, str) and url else None


def quick_test(classifier: Classifier, settings: Settings, body: bytes, content_type: str) -> Reply:
    """Classify POSTed image bytes, or JSON {"url": ...}; answer the result document, store nothing."""
    limit = settings.quicktest_max_bytes
    if len(body) > limit:
        return problem(413, "ImageTooLarge", limit=f"{limit} bytes, QUICKTEST_MAX_BYTES")
    if not body:
        return problem(400, "EmptyBody")
    if content_type.split(";")[0].strip().lower() == "application/json":
        url = _requested_url(body)
        if url is None:
            return problem(400, "BadJson")
        try:
            data = fetch.fetch_image(url, max_bytes=limit, timeout=settings.quicktest_url_timeout_seconds)
        except fetch.FetchError as error:
            log.info("quick test: fetching the URL failed: %s %s", error.code, error.message)
            if error.code == "ImageTooLarge":
                return problem(error.status, "ImageTooLarge", limit=f"{limit} bytes, QUICKTEST_MAX_BYTES")
            known = error.code in catalogue.CATALOGUE and not catalogue.CATALOGUE[error.code].placeholders
            return problem(error.status, error.code if known else "UrlFetchFailed")
        source = QuickSource(size=len(data), url=url)
    else:
        data = body
        source = QuickSource(size=len(data), upload=True)
    try:
        document = classifier.quick_test(data, source)
    except TransientError as error:
        retry = str(math.ceil(error.retry_after or 5))
        body_ = {"error": {"code": error.code, "message": error.message, "retryable": True}}
        return Reply(429 if error.code == "QuickTestBusy" else 503, body_, {"Retry-After": retry})
    if isinstance(document, documents.ResultDocument):
        return Reply(200, documents.as_json(document))
    code = document.error.code
    status = 422 if code in IMAGE_ERRORS else 409 if code in MODEL_ERRORS else 502
    return Reply(status, documents.as_json(document))
