"""devhost with each blob-trigger attempt under cProfile: ``python -m bench.profiled PREFIX <devhost args>``.

Used by bench.profile. After the process's first PROFILE_SKIP attempts (the warm-up: first connections,
the model's first load), each worker thread profiles its attempts by thread CPU time (waiting is not
counted) and writes its statistics to PREFIX.<thread id> every DUMP_EVERY attempts. Stage times come from
the product's spans, not from here.
"""

from __future__ import annotations

import cProfile
import functools
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

DUMP_EVERY = 10
PROFILE_SKIP = 8
_lock = threading.Lock()
_current = threading.local()
_attempts = 0


def _profiler() -> cProfile.Profile | None:
    global _attempts
    with _lock:
        _attempts += 1
        if _attempts <= PROFILE_SKIP:
            return None
    if getattr(_current, "profile", None) is None:
        _current.profile, _current.profiled = cProfile.Profile(time.thread_time), 0
    return _current.profile


def install(prefix: str) -> None:
    from devhost import blob_listener

    attempt = blob_listener.BlobListener._try

    @functools.wraps(attempt)
    def profiled(self: Any, *args: Any, **kwargs: Any) -> Any:
        profile = _profiler()
        if profile is None:
            return attempt(self, *args, **kwargs)
        profile.enable()
        try:
            return attempt(self, *args, **kwargs)
        finally:
            profile.disable()
            _current.profiled += 1
            if _current.profiled % DUMP_EVERY == 0:
                profile.dump_stats(f"{prefix}.{threading.get_ident()}")

    blob_listener.BlobListener._try = profiled  # type: ignore[method-assign]


def runner(prefix: str) -> tuple[str, ...]:
    """The arguments that run devhost profiled (``LocalStack.start_devhost(runner=...)``)."""
    return ("-m", "bench.profiled", prefix)


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: python -m bench.profiled PREFIX [devhost arguments]", file=sys.stderr)
        return 2
    install(sys.argv[1])
    from devhost.__main__ import main as devhost_main

    run: Callable[[list[str]], int] = devhost_main
    return run(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
