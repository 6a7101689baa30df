"""The pipeline's error types and how a Custom Vision failure maps onto them.

A permanent error ends in an error document (or a failed run) and is not retried; a transient one is
retried inside the call (shared.customvision.retry) and then raised, so the Functions host retries the
invocation.
Every error's message comes from shared.catalogue; what only an engineer needs goes to the log.
"""

from __future__ import annotations

import logging

from azure.core.exceptions import ClientAuthenticationError
from msrest.exceptions import ClientRequestError, HttpOperationError

from shared import catalogue

log = logging.getLogger(__name__)


class PipelineError(Exception):
    """An error with a catalogue ``code`` and message, as written into documents and run records.

    ``service_code`` keeps Custom Vision's own error code (e.g. BadRequestTrainingNotNeeded) for the
    code that reacts to it; it is shown only through a catalogue placeholder.
    """

    retryable = False

    def __init__(self, code: str, *, service_code: str | None = None, **values: str | int | float) -> None:
        message = catalogue.text(code, **values)
        super().__init__(message)
        self.code = code
        self.message = message
        self.service_code = service_code


class PermanentError(PipelineError):
    """Retrying cannot help: bad input, missing model or project, wrong key."""


class TransientError(PipelineError):
    """Throttling, a server error, a timeout or a lost connection: worth retrying later."""

    retryable = True

    def __init__(self, code: str, *, retry_after: float | None = None, **values: str | int | float) -> None:
        super().__init__(code, **values)
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
    code = getattr(error, "code", None) or ""
    return code if code.isalnum() else ""  # shown in messages: letters and digits only


def from_customvision(
    exc: Exception, *, resource: str, identity: bool = False, project_id: str | None = None
) -> PipelineError | None:
    """The PipelineError for an exception raised by the Custom Vision SDK, or None if it is not one.

    ``resource`` (training | prediction) is the failing client's, so an authentication error names what to
    fix: the key setting, or with ``identity`` (CUSTOMVISION_AUTH=identity) the identity's role.
    """
    if isinstance(exc, PipelineError):
        return exc
    if isinstance(exc, ClientAuthenticationError):  # azure-identity found no token (raised before sending)
        log.warning("No Entra ID token for Custom Vision: %s", exc.message)
        return PermanentError("NoToken")
    if isinstance(exc, ClientRequestError):  # connection refused/reset, timeout, msrest RetryError
        log.info("Custom Vision unreachable: %s: %s", type(exc).__name__, exc)
        return TransientError("ServiceUnavailable")
    if not isinstance(exc, HttpOperationError) or exc.response is None:
        return None
    status = exc.response.status_code
    code = _service_code(exc)
    if status == 429:
        return TransientError("Throttled", retry_after=_retry_after(exc))
    if status == 408 or status >= 500:
        return TransientError("ServiceError", retry_after=_retry_after(exc), status=status)
    if status in (401, 403) and identity:
        return PermanentError("IdentityRefused", status=status, resource=resource)
    if status in (401, 403):
        setting = f"CUSTOMVISION_{resource.upper()}_KEY"
        return PermanentError("AuthenticationFailed", status=status, setting=setting)
    if code == "NotFoundProject":
        return PermanentError(
            "ProjectNotFound",
            setting="CUSTOMVISION_PROJECT_ID" if project_id else "CUSTOMVISION_PROJECT_NAME",
            value=project_id or "(the configured name)",
        )
    log.warning("Custom Vision refused the call (HTTP %s, %s): %s", status, code or "no code", exc)
    return PermanentError(
        "CustomVisionRefused", service_code=code or None, serviceCode=code or f"Http{status}", status=status
    )
