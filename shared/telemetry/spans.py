"""The pipeline's spans: a trace per image (``classify image`` and its stages), a span per retrain step.

Attribute names are the ones docs/telemetry.md and the workbook query. A span that ends with an error
carries the error's catalogue code (``error.code``) and an error status; the exception itself is recorded
as an event, as a log line would be.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from shared.telemetry import metrics

TRACER = trace.get_tracer("pipeline")
BLOB, ETAG, BACKEND, ITERATION = "blob.name", "blob.etag", "backend", "iteration.id"
RUN_ID, STEP, OUTCOME, ERROR_CODE = "run.id", "retrain.step", "outcome", "error.code"
IMAGE_SPAN = "classify image"
UNEXPECTED = "Unexpected"  # the code of an error that is not one of the catalogue's
F = TypeVar("F", bound=Callable[..., Any])


class BlobVersion(Protocol):
    name: str
    etag: str | None


@dataclass
class _Image:
    span: Span
    review: bool = False
    backend: str = ""


_image: ContextVar[_Image | None] = ContextVar("telemetry_image", default=None)


def error_code(error: BaseException) -> str:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else UNEXPECTED


def _failed(span: Span, error: BaseException) -> str:
    code = error_code(error)
    span.set_attribute(ERROR_CODE, code)
    span.set_status(Status(StatusCode.ERROR, code))
    span.record_exception(error)
    return code


@contextmanager
def stage(name: str, **attributes: str) -> Iterator[Span]:
    """A child span of whatever is current; an exception passing through marks it failed with its code."""
    with TRACER.start_as_current_span(
        name, attributes=attributes or None, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except BaseException as error:
            _failed(span, error)
            raise


def traced(name: str, *, review: bool = False) -> Callable[[F], F]:
    """Decorator form of ``stage``; ``review``: the image this runs for goes to review."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            image = _image.get()
            if review and image is not None:
                image.review = True
            with stage(name):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap


def image_span(fn: F) -> F:
    """Decorator of ``classify_blob(self, blob, data) -> document``: the image's trace, with its outcome
    (``classified``, ``review`` or ``failed`` with the document's error code) counted in metrics."""

    @functools.wraps(fn)
    def run(self: Any, blob: BlobVersion, data: bytes) -> dict[str, Any]:
        attributes = {BLOB: blob.name, ETAG: blob.etag or ""}
        with TRACER.start_as_current_span(
            IMAGE_SPAN, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            image = _Image(span)
            token = _image.set(image)
            try:
                document = fn(self, blob, data)
            except BaseException as error:
                span.set_attribute(OUTCOME, "failed")
                metrics.image("failed", _failed(span, error), image.backend)
                raise
            finally:
                _image.reset(token)
            code = None
            if document.get("status") == "error":
                code = str((document.get("error") or {}).get("code") or UNEXPECTED)
                span.set_attribute(ERROR_CODE, code)
                span.set_status(Status(StatusCode.ERROR, code))
            outcome = "failed" if code else "review" if image.review else "classified"
            span.set_attribute(OUTCOME, outcome)
            metrics.image(outcome, code, image.backend)
            return document

    return run  # type: ignore[return-value]


@contextmanager
def predict_span(backend: str) -> Iterator[Callable[[str | None], None]]:
    """The prediction (``service``: the Custom Vision call; ``onnx``: the in-process model); yields a
    function that records the iteration that answered. Its duration is the prediction latency metric."""
    image = _image.get()
    if image is not None:
        image.backend = backend
        image.span.set_attribute(BACKEND, backend)
    started = time.perf_counter()

    with stage("predict", **{BACKEND: backend}) as span:

        def iteration(iteration_id: str | None) -> None:
            if iteration_id:
                span.set_attribute(ITERATION, iteration_id)
                if image is not None:
                    image.span.set_attribute(ITERATION, iteration_id)

        try:
            yield iteration
        finally:
            metrics.prediction(time.perf_counter() - started, backend)


@contextmanager
def retrain_step(run_id: str, step: str) -> Iterator[Span]:
    """One step of a retrain run (``retrain sync``, ``retrain train``, ...); the caller sets ``outcome``."""
    with stage(f"retrain {step}", **{RUN_ID: run_id, STEP: step}) as span:
        yield span
