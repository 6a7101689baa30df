"""Load the function app and index its functions from ``app.get_functions()``: the only source of triggers."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func

from devhost.config import ConfigError

SUPPORTED_TRIGGERS = ("blobTrigger", "queueTrigger", "timerTrigger", "httpTrigger")
SUPPORTED_BINDINGS = {("blob", "in"), ("blob", "out"), ("queue", "out"), ("http", "out")}


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the host indexes it: the raw binding JSON plus the Python callable."""

    name: str
    trigger: dict[str, Any]
    bindings: tuple[dict[str, Any], ...]  # every binding except the trigger
    user_function: Callable[..., Any]

    @property
    def function_id(self) -> str:
        return f"Host.Functions.{self.name}"

    @property
    def trigger_type(self) -> str:
        return self.trigger["type"]

    @cached_property
    def parameters(self) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(self.user_function).parameters)

    def annotation_name(self, param: str) -> str:
        """The parameter's annotation as text (``bytes``, ``func.InputStream``...), '' when there is none."""
        parameter = self.parameters.get(param)
        if parameter is None or parameter.annotation is inspect.Parameter.empty:
            return ""
        annotation = parameter.annotation
        if isinstance(annotation, str):
            return annotation
        return getattr(annotation, "__qualname__", None) or str(annotation)


def import_app_module(app: str, script_root: Path) -> ModuleType:
    """Import ``app``: a module name (``function_app``) or a path to a .py file."""
    if app.endswith(".py") or "/" in app:
        path = Path(app).resolve()
        if not path.is_file():
            raise ConfigError(f"function app file {path} not found")
        sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    sys.path.insert(0, str(script_root))
    try:
        return importlib.import_module(app)
    except ModuleNotFoundError as exc:
        if exc.name == app:
            raise ConfigError(f"function app module '{app}' not found in {script_root}") from exc
        raise


def find_app(module: ModuleType) -> func.FunctionApp:
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionApp)]
    if len(apps) != 1:
        raise ConfigError(
            f"{module.__name__} must define exactly one azure.functions.FunctionApp at module level "
            f"(found {len(apps)})"
        )
    return apps[0]


def _direction(binding: dict[str, Any]) -> str:
    return str(binding.get("direction") or "in").lower()


def index_functions(app: func.FunctionApp) -> list[FunctionSpec]:
    """Call ``get_functions()`` once (it is single-shot) and check every trigger and binding is supported."""
    try:
        functions = app.get_functions()
    except ValueError as exc:
        raise ConfigError(f"the function app is invalid: {exc}") from exc
    specs: list[FunctionSpec] = []
    for function in functions:
        name = function.get_function_name()
        raw = [json.loads(text) for text in function.get_raw_bindings()]
        triggers = [b for b in raw if b["type"].endswith("Trigger")]
        if len(triggers) != 1:
            raise ConfigError(f"function '{name}' must have exactly one trigger (found {len(triggers)})")
        trigger = triggers[0]
        if trigger["type"] not in SUPPORTED_TRIGGERS:
            raise ConfigError(
                f"function '{name}': trigger type {trigger['type']} is not supported by devhost "
                f"(supported: {', '.join(SUPPORTED_TRIGGERS)}); use `func start` with Core Tools for it"
            )
        others = tuple(b for b in raw if b is not trigger)
        for binding in others:
            binding["direction"] = _direction(binding)
            if (binding["type"], binding["direction"]) not in SUPPORTED_BINDINGS:
                raise ConfigError(
                    f"function '{name}': {binding['direction']} binding of type {binding['type']} "
                    f"('{binding.get('name')}') is not supported by devhost"
                )
        specs.append(FunctionSpec(name, trigger, others, function.get_user_function()))
    return specs
