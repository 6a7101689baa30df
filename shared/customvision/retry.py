"""Our retry policy for Custom Vision calls, and the client-side rate limit.

The SDK's own retries are switched off (shared.customvision.clients): with urllib3 2 they retry GETs but not
POSTs, and never a 429 without Retry-After, so the behaviour would depend on the verb. Here every
transient failure is retried the same way: exponential backoff with jitter, at least the server's
``Retry-After``, within a time budget (TRANSIENT_RETRY_SECONDS); then the last error is raised.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from shared import telemetry
from shared.errors import PipelineError, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

BASE_DELAY = 0.5
MAX_DELAY = 8.0


def backoff(attempt: int, retry_after: float | None, rng: Callable[[], float] = random.random) -> float:
    """Delay before retry ``attempt`` (1-based): 0.5 s doubling to 8 s, jittered to 50-100 %."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1)) * (0.5 + rng() / 2)
    return max(delay, retry_after or 0.0)


def call_with_retry(
    fn: Callable[[], T],
    map_error: Callable[[Exception], PipelineError | None],
    *,
    budget_seconds: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``fn``; retry transient failures (as ``map_error`` maps them) while the budget allows.

    Raises the mapped PipelineError (permanent at once, transient once the budget is spent) or, for
    an exception ``map_error`` does not know, the original exception.
    """
    start = clock()
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            error = map_error(exc)
            if error is None:
                raise
            if not isinstance(error, TransientError):
                raise error from exc
            attempt += 1
            delay = backoff(attempt, error.retry_after)
            if clock() - start + delay > budget_seconds:
                log.warning("%s: %s; giving up after %d tries", what, error.code, attempt)
                raise error from exc
            log.info("%s: %s; retry %d in %.2f s", what, error.code, attempt, delay)
            telemetry.retried(what, error.code, delay)
            sleep(delay)


class RateLimiter:
    """A thread-safe pacer: calls at least ``1 / rate`` seconds apart, never a burst.

    A bucket of one token: the service counts calls in a sliding one-second window, so a bucket that let a
    pause be made up with a burst would put up to twice the rate into one window and draw 429s. Callers
    reserve a slot and sleep outside the lock, so waiting threads are served in order.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = 1.0
        self._tokens = self.capacity
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; return how long the caller must wait before using it."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        wait = self.reserve()
        if wait > 0:
            telemetry.rate_waited(wait)
            sleep(wait)

    def try_acquire(self, max_wait: float, sleep: Callable[[float], None] = time.sleep) -> float | None:
        """Take a slot if one comes within ``max_wait`` seconds (waiting for it) and return None; else
        take nothing and return the seconds until a slot is free."""
        if self.rate <= 0:
            return None
        with self._lock:
            now = self._clock()
            tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
            if wait > max_wait:
                self._tokens = tokens
                return wait
            self._tokens = tokens - 1.0
        if wait > 0:
            sleep(wait)
        return None


_limiters: dict[tuple[str, float], RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(purpose: str, rate: float) -> RateLimiter:
    """The process-wide limiter of one budget (``purpose``) at ``rate``, shared by all threads; budgets
    with the same rate still get limiters of their own."""
    with _limiters_lock:
        key = (purpose, rate)
        if key not in _limiters:
            _limiters[key] = RateLimiter(rate)
        return _limiters[key]
