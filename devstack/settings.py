"""local.settings.json: the user's (made from the shipped example once) and the private stacks' own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from devstack.paths import SETTINGS, SETTINGS_EXAMPLE


class StackError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


def ensure() -> dict[str, Any]:
    """Create local.settings.json from the example when missing; return its content."""
    if not SETTINGS.exists():
        if not SETTINGS_EXAMPLE.exists():
            raise StackError(f"{SETTINGS_EXAMPLE} is missing: it ships with the project; restore it from git")
        shutil.copyfile(SETTINGS_EXAMPLE, SETTINGS)
        print(f"created {SETTINGS.name} from {SETTINGS_EXAMPLE.name}")
    try:
        return json.loads(SETTINGS.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StackError(f"{SETTINGS} is not valid JSON: {exc}") from exc


def values_of(settings: dict[str, Any]) -> dict[str, str]:
    """The ``Values`` of a local.settings.json document, as strings."""
    return {str(k): str(v) for k, v in (settings.get("Values") or {}).items()}


def for_stack(
    conn_str: str, endpoint: str, keys: dict[str, str], overrides: dict[str, str]
) -> dict[str, str]:
    """``Values`` for a private stack: the shipped example pointed at its Azurite and localvision."""
    values = values_of(json.loads(SETTINGS_EXAMPLE.read_text(encoding="utf-8")))
    values.update(
        {
            "AzureWebJobsStorage": conn_str,
            "PIPELINE_STORAGE": conn_str,
            "CUSTOMVISION_TRAINING_ENDPOINT": endpoint,
            "CUSTOMVISION_PREDICTION_ENDPOINT": endpoint,
            "PREDICTION_MAX_TPS": "0",
            "QUICKTEST_MAX_TPS": "0",
            "RETRAIN_POLL_SECONDS": "1",
            "AzureFunctionsWebHost__hostid": "devstack-host",
            **keys,
            **overrides,
        }
    )
    return values


def write(path: Path, values: dict[str, str]) -> Path:
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}, indent=2), encoding="utf-8")
    return path
