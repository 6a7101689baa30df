"""The HTTP endpoints' logic, free of azure.functions: each handler returns a Reply."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared import fetch
from shared.classify import Classifier
from shared.errors import TransientError
from shared.retrain import Retrainer
from shared.settings import Settings

# Error codes of a quick-test result and the HTTP status they are answered with.
IMAGE_ERRORS = frozenset({"NotAnImage", "ImageTooSmall", "ImageTooLarge", "ImageAspectRatio"})
MODEL_ERRORS = frozenset({"NoPublishedModel", "ProjectNotFound"})


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> str:
        return json.dumps(self.body, indent=2, ensure_ascii=False)


def problem(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def status_url(request_url: str, run_id: str) -> str:
    """/api/retrain/{runId} next to the request's /api/retrain (query string dropped)."""
    base = request_url.split("?", 1)[0].rstrip("/")
    if not base.endswith("/retrain"):
        base = base.rsplit("/", 1)[0]
    return f"{base}/{run_id}"


def retrain_start(retrainer: Retrainer, request_url: str) -> Reply:
    """202 with a new run; 200 with the running one when a cycle is already under way."""
    started, run = retrainer.start("http")
    url = status_url(request_url, run["runId"])
    body = {"runId": run["runId"], "status": run["status"], "statusUrl": url, "started": started}
    return Reply(202 if started else 200, body, {"Location": url})


def retrain_runs(retrainer: Retrainer) -> Reply:
    return Reply(200, {"runs": retrainer.latest()})


def retrain_status(retrainer: Retrainer, run_id: str) -> Reply:
    run = retrainer.get(run_id)
    if run is None:
        return problem(
            404, "RunNotFound", f"No retrain run {run_id!r}: GET /api/retrain lists the latest runs"
        )
    return Reply(200, run)


def quick_test(classifier: Classifier, settings: Settings, body: bytes, content_type: str) -> Reply:
    """Classify POSTed image bytes, or JSON {"url": ...}; answer the result document, store nothing."""
    limit = settings["QUICKTEST_MAX_BYTES"]
    if len(body) > limit:
        return problem(413, "ImageTooLarge", f"The body is larger than {limit} bytes (QUICKTEST_MAX_BYTES)")
    if not body:
        return problem(400, "EmptyBody", 'POST image bytes, or JSON {"url": "https://..."}')
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            request = json.loads(body)
        except ValueError as exc:
            return problem(
                400, "BadJson", f'The body is not valid JSON ({exc}): send {{"url": "https://..."}}'
            )
        url = request.get("url") if isinstance(request, dict) else None
        if not isinstance(url, str) or not url:
            return problem(400, "BadJson", 'The JSON needs a "url" string: {"url": "https://..."}')
        try:
            data = fetch.fetch_image(url, max_bytes=limit, timeout=settings["QUICKTEST_URL_TIMEOUT_SECONDS"])
        except fetch.FetchError as error:
            return problem(error.status, error.code, error.message)
        source: dict[str, Any] = {"url": url, "size": len(data)}
    else:
        data = body
        source = {"upload": True, "size": len(data)}
    try:
        document = classifier.quick_test(data, source)
    except TransientError as error:
        retry = str(int(error.retry_after or 5))
        return Reply(503, {"error": error.as_dict()}, {"Retry-After": retry})
    if document["status"] == "ok":
        return Reply(200, document)
    code = document["error"]["code"]
    status = 422 if code in IMAGE_ERRORS else 409 if code in MODEL_ERRORS else 502
    return Reply(status, document)
