"""devhost's own spans, as the Functions host records them in Azure (OpenTelemetry API only).

Each invocation is a span ``Functions.<name>`` (the host's request); a blob-trigger attempt also has the
host's ``download`` of the blob and its ``receipt``. The app's spans nest under it, as in Azure where the
worker continues the host's trace. Where they go is the app's choice (TELEMETRY_EXPORTER: the app
configures the process's providers); without one they cost next to nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

TRACER = trace.get_tracer("devhost")
F = TypeVar("F", bound=Callable[..., Any])
KINDS = {"httpTrigger": SpanKind.SERVER}  # the rest (blob, queue, timer, Event Grid) are consumers


def blob(container: str, name: str, etag: str) -> dict[str, str]:
    """A blob version's attributes (the ETag in quotes, as the trigger's properties show it)."""
    return {"blob.container": container, "blob.name": name, "blob.etag": f'"{etag.strip(chr(34))}"'}


def span_name(function: str) -> str:
    return f"Functions.{function}"


@contextmanager
def invocation(function: str, trigger: str, **attributes: str) -> Iterator[None]:
    """The invocation's span, unless the blob listener already opened it for this function."""
    current = trace.get_current_span()
    if getattr(current, "name", None) == span_name(function) and current.is_recording():
        yield
        return
    kind = KINDS.get(trigger, SpanKind.CONSUMER)
    with TRACER.start_as_current_span(
        span_name(function), kind=kind, attributes={"faas.trigger": trigger, **attributes}
    ) as span:
        try:
            yield
        except BaseException as error:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise


def step(name: str) -> Callable[[F], F]:
    """A host step of the current invocation (``download``, ``receipt``) as a child span."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with TRACER.start_as_current_span(name):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]

    return wrap
