"""The pipeline's error types and how a Custom Vision failure maps onto them.

A permanent error ends in an error document (or a failed run) and is not retried; a transient one is
retried inside the call (shared.retry) and then raised, so the Functions host retries the invocation.
"""

from __future__ import annotations

from msrest.exceptions import ClientRequestError, HttpOperationError


class PipelineError(Exception):
    """An error with a stable ``code`` that goes into result documents and run records."""

    retryable = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


class PermanentError(PipelineError):
    """Retrying cannot help: bad input, missing model or project, wrong key."""


class TransientError(PipelineError):
    """Throttling, a server error, a timeout or a lost connection: worth retrying later."""

    retryable = True

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


def _retry_after(exc: HttpOperationError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: rare for Custom Vision; fall back to our own backoff
        return None


def _service_code(exc: HttpOperationError) -> str:
    error = getattr(exc, "error", None)
    return getattr(error, "code", None) or ""


def from_customvision(
    exc: Exception, *, key_setting: str, project_id: str | None = None
) -> PipelineError | None:
    """The PipelineError for an exception raised by the Custom Vision SDK, or None if it is not one.

    ``key_setting`` names the key the failing client used, so an authentication error says which to fix.
    """
    if isinstance(exc, PipelineError):
        return exc
    if isinstance(exc, ClientRequestError):  # connection refused/reset, timeout, msrest RetryError
        return TransientError(
            "ServiceUnavailable", f"Custom Vision could not be reached: {type(exc).__name__}"
        )
    if not isinstance(exc, HttpOperationError) or exc.response is None:
        return None
    status = exc.response.status_code
    code = _service_code(exc)
    if status == 429:
        return TransientError("Throttled", "Custom Vision throttled the call (HTTP 429)", _retry_after(exc))
    if status == 408 or status >= 500:
        return TransientError("ServiceError", f"Custom Vision answered HTTP {status}", _retry_after(exc))
    if status in (401, 403):
        return PermanentError(
            "AuthenticationFailed",
            f"Custom Vision refused the key (HTTP {status}): check {key_setting} and that the endpoint "
            "belongs to the same resource",
        )
    if code == "NotFoundProject":
        where = (
            f"CUSTOMVISION_PROJECT_ID={project_id} names no project on this resource"
            if project_id
            else "the project does not exist on this resource"
        )
        return PermanentError(
            "ProjectNotFound", f"{where}: fix CUSTOMVISION_PROJECT_ID or clear it to use the name"
        )
    return PermanentError(code or f"Http{status}", f"Custom Vision refused the call (HTTP {status}): {exc}")
