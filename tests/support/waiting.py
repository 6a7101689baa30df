"""Waiting for something the system under test does in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_until(
    condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition", every: float = 0.1
) -> Any:
    """Poll ``condition`` until it returns something truthy and return that; fail the test after
    ``timeout`` seconds (a guard against hangs, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
