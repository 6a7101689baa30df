"""Helpers the test apps use to leave evidence in storage: one blob per event under $CALLS_CONTAINER."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from azure.storage.blob import BlobServiceClient


def _service() -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(os.environ["TEST_STORAGE"])


def record(kind: str, key: str, **details: Any) -> None:
    """Write ``{kind}/{key}/{uuid}`` with the details and the time, so tests can count and inspect events."""
    body = json.dumps({"at": time.time(), "pid": os.getpid(), **details})
    blob = f"{kind}/{key}/{uuid.uuid4()}"
    _service().get_blob_client(os.environ["CALLS_CONTAINER"], blob).upload_blob(body)


def wait_for_gate(name: str, timeout: float = 60.0) -> None:
    """Block until the test creates ``gates/{name}`` (lets a test hold an invocation mid-run)."""
    gate = _service().get_blob_client(os.environ["CALLS_CONTAINER"], f"gates/{name}")
    deadline = time.monotonic() + timeout
    while not gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {name} was not opened")
        time.sleep(0.1)
