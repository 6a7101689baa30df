"""Invoke a user function as the worker does: inputs bound, outputs written, a log line at start and end."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost import tracing
from devhost.bindings import BindingRunner
from devhost.indexing import FunctionSpec

log = logging.getLogger("devhost.invoker")
_current = threading.local()


class InvocationContext(func.Context):
    """What a function receives when it declares a ``context`` parameter."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def thread_local_storage(self) -> threading.local:
        return self._thread_local

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class InvocationLogFilter(logging.Filter):
    """Adds ``function`` and ``invocation`` to every record logged while an invocation runs on this thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        function = getattr(_current, "function", "-")
        invocation = getattr(_current, "invocation", "-")
        record.function, record.invocation = function, invocation
        record.ctx = f" [{function} {invocation}]" if invocation != "-" else ""
        return True


class Invoker:
    def __init__(self, bindings: BindingRunner, script_root: Path) -> None:
        self.bindings = bindings
        self.script_root = script_root

    def invoke(
        self,
        spec: FunctionSpec,
        trigger_value: Any,
        values: Mapping[str, Any],
        reason: str,
        extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run one invocation in the calling thread; returns the function's result or raises its error.

        ``values`` feed binding expressions ({name}, route params); ``extra`` are further keyword arguments.
        """
        with tracing.invocation(spec.name, spec.trigger_type):
            return self._invoke(spec, trigger_value, values, reason, extra)

    def _invoke(
        self,
        spec: FunctionSpec,
        trigger_value: Any,
        values: Mapping[str, Any],
        reason: str,
        extra: Mapping[str, Any] | None,
    ) -> Any:
        invocation_id = str(uuid.uuid4())
        _current.function, _current.invocation = spec.name, invocation_id
        started = time.perf_counter()
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        try:
            kwargs = {spec.trigger["name"]: trigger_value, **(extra or {})}
            kwargs.update(self.bindings.inputs(spec, values))
            parameters = spec.parameters
            if "context" in parameters and "context" not in kwargs:
                kwargs["context"] = InvocationContext(invocation_id, spec.name, str(self.script_root))
            result = spec.user_function(**kwargs)
            self.bindings.outputs(spec, kwargs, result, values)
        except BaseException:
            elapsed = (time.perf_counter() - started) * 1000
            log.exception(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms)", spec.name, invocation_id, elapsed
            )
            raise
        finally:
            _current.function = _current.invocation = "-"
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)", spec.name, invocation_id, elapsed
        )
        return result
